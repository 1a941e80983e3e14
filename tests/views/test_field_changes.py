"""Renaming or deleting a field that trees use: the live form keeps working, and the builder is
told where the field is used."""

from __future__ import annotations

import pytest
from django.test import Client

from eventtree.models import EventTree, Field, Node, Record
from eventtree.services.records import record_submit
from tests.factories import set_field, tree_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def rename(staff: Client, field: Field, new: str, *, update_drafts: bool):
    data = {"edit-name": new, "edit-label": "", "edit-type": field.type}
    if field.required:
        data["edit-required"] = "on"
    if update_drafts:
        data["edit-update_drafts"] = "on"
    return staff.post(f"/builder/forms/membership/fields/{field.pk}/", data, **HTMX)


def test_deleting_a_field_the_live_version_uses_is_refused_naming_the_tree_and_nodes(
    staff, membership, django_capture_on_commit_callbacks
):
    form, _ = membership
    field_d = form.fields.get(name="field_d")

    page = staff.post(f"/builder/forms/membership/fields/{field_d.pk}/delete/", **HTMX).content.decode()

    assert "The field field_d is used by “On submit” (live version 1): set field_d = &#x27;D&#x27;" in page
    assert Field.objects.filter(pk=field_d.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    assert record.values["field_d"] == "D"


def test_a_rename_reaches_the_live_version_and_the_draft_so_the_form_keeps_working(
    staff, membership, django_capture_on_commit_callbacks
):
    form, tree = membership
    with django_capture_on_commit_callbacks(execute=True):
        rename(staff, form.fields.get(name="name"), "full_name", update_drafts=True)
        rename(staff, form.fields.get(name="field_a"), "first_part", update_drafts=True)

    tree = EventTree.objects.get(pk=tree.pk)
    assert (tree.published.number, tree.published.note) == (3, "Field field_a renamed to first_part")
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = record_submit(form=form, values={"full_name": "Ada", "email": "ada@example.com"})
    assert record.values["first_part"] == "A:Ada"  # the template followed the rename too
    draft = Node.objects.get(tree=tree, config__field="first_part")
    assert draft.config["value"] == "A:{{ record.full_name }}"
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert "The draft is the live version." in page


def test_a_rename_without_the_drafts_keeps_the_form_working_and_flags_the_tree_on_the_form_page(
    staff, membership, django_capture_on_commit_callbacks
):
    form, tree = membership
    with django_capture_on_commit_callbacks(execute=True):
        rename(staff, form.fields.get(name="field_d"), "last_part", update_drafts=False)

    with django_capture_on_commit_callbacks(execute=True):
        record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    assert record.values["last_part"] == "D" and Record.objects.count() == 1
    page = staff.get("/builder/forms/membership/").content.decode()
    assert "live: version 2" in page and "draft: 1 node needs attention" in page


def test_the_answer_to_a_field_change_shows_at_once_the_trees_it_leaves_needing_attention(staff, membership):
    form, tree = membership
    Field.objects.create(form=form, name="spare", position=9)
    tree_create(form, [set_field("spare", "x")], name="Draft only", publish=False)

    answer = staff.post(f"/builder/forms/membership/fields/{form.fields.get(name='spare').pk}/delete/",
                        **HTMX).content.decode()

    tree_list = answer.split('<div id="tree-list" hx-swap-oob="true">', 1)[1]  # swapped out of band
    assert "draft: 1 node needs attention" in tree_list
