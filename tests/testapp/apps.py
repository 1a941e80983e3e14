"""A test-only app of action types, added to a deployment with
EVENTTREE_EXTRA_APPS=tests.testapp.apps.TestActionsConfig — the way an operator adds any app
of action types. The product itself never registers these."""

from __future__ import annotations

from django.apps import AppConfig


class TestActionsConfig(AppConfig):
    name = "tests.testapp"
    label = "eventtree_testapp"
    verbose_name = "Test-only actions"

    def ready(self) -> None:
        from eventtree.actions.registry import registry
        from tests.testapp.actions import Sleep

        registry.register(Sleep)
