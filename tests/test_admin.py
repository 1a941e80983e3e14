"""The Django admin shows every model of the product, and its block actions use the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from eventtree.models import Block, BlockState, Record, Run
from tests.factories import REFERENCE_FIELDS, form_create, reference_tree_nodes, tree_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(django_capture_on_commit_callbacks):
    from eventtree.services.records import record_submit

    form = form_create("membership", fields=REFERENCE_FIELDS)
    tree_create(form, reference_tree_nodes())
    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})


def test_every_model_has_a_working_changelist_and_change_page(admin_client, submitted):
    models = [model for model in admin.site._registry if model._meta.app_label == "eventtree"]
    assert len(models) == 12
    for model in models:
        changelist = admin_client.get(reverse(f"admin:eventtree_{model._meta.model_name}_changelist"))
        assert changelist.status_code == 200, model
        instance = model.objects.first()
        if instance is not None:
            change = admin_client.get(reverse(f"admin:eventtree_{model._meta.model_name}_change", args=[instance.pk]))
            assert change.status_code == 200, model


def test_cancel_a_pending_block_from_the_admin(admin_client, submitted):
    block = Block.objects.get()
    admin_client.post(reverse("admin:eventtree_block_changelist"),
                      {"action": "cancel_blocks", "_selected_action": [block.pk]})
    block.refresh_from_db()
    assert block.state == BlockState.CANCELLED
    assert Run.objects.get().status == "done"
    assert "field_b" not in Record.objects.get().values
