from __future__ import annotations

import pytest
from django import forms

from eventtree.actions.base import BaseAction
from eventtree.actions.registry import ActionRegistry, AlreadyRegistered, UnknownAction, registry


class EmptyConfig(forms.Form):
    pass


class Ping(BaseAction):
    key = "ping"
    label = "Ping"
    config_form = EmptyConfig

    def run(self, context, config):
        return "pong"


def test_register_and_get():
    actions = ActionRegistry()
    actions.register(Ping)
    assert isinstance(actions.get("ping"), Ping)
    assert "ping" in actions and actions.keys() == ["ping"]


def test_duplicates_are_refused():
    actions = ActionRegistry()
    actions.register(Ping)
    with pytest.raises(AlreadyRegistered):
        actions.register(Ping)


@pytest.mark.parametrize("attributes, message", [
    ({"key": "Bad Key"}, "lower-case identifier"),
    ({"key": None}, "lower-case identifier"),
    ({"label": ""}, "label"),
    ({"config_form": dict}, "config_form"),
])
def test_malformed_action_types_are_refused(attributes, message):
    malformed = type("Malformed", (Ping,), attributes)
    with pytest.raises(ValueError, match=message):
        ActionRegistry().register(malformed)


def test_non_actions_and_actions_without_run_are_refused():
    with pytest.raises(TypeError):
        ActionRegistry().register(object)
    no_run = type("NoRun", (BaseAction,), {"key": "x", "label": "X", "config_form": EmptyConfig})
    with pytest.raises(ValueError, match="run"):
        ActionRegistry().register(no_run)


def test_unknown_key():
    with pytest.raises(UnknownAction):
        ActionRegistry().get("nope")


def test_builtin_actions_are_registered_by_the_app():
    assert set(registry.keys()) >= {"set_field", "create_record", "send_email", "set_flag",
                                    "progress", "log", "fail"}
