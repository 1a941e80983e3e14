"""The record edit form writes only what the person changed (eventtree/views/builder/records.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from eventtree.models import Record
from tests.factories import REFERENCE_FIELDS, action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


class FormData(HTMLParser):
    """What a browser would post for the page's record form (inputs, textareas, selects)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.data[name] = attrs.get("value") or "on"
            else:
                self.data[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""
        elif tag == "select" and name:
            self.select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value") or ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data.lstrip("\n") if not self.data[self.textarea] else data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None


def shown_form(client, record: Record) -> dict[str, str]:
    parser = FormData()
    parser.feed(client.get(f"/builder/records/{record.pk}/edit/").content.decode())
    return parser.data


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    return client


def test_a_stale_edit_keeps_what_a_block_wrote_meanwhile(root):
    form = form_create("membership", fields=REFERENCE_FIELDS)
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    data = shown_form(root, record)  # the page is opened before the block has run

    Record.objects.filter(pk=record.pk).update(values={**record.values, "field_b": "B"})  # the block
    data["name"] = "Ada L."
    response = root.post(f"/builder/records/{record.pk}/edit/", data)

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.values == {"name": "Ada L.", "email": "ada@example.com", "field_b": "B"}


TYPED_FIELDS = [
    {"name": "name"},
    {"name": "agreed", "type": "checkbox"},
    {"name": "declined", "type": "checkbox"},
    {"name": "day", "type": "date"},
    {"name": "moment", "type": "datetime"},
    {"name": "count", "type": "number"},
    {"name": "ratio", "type": "number"},
    {"name": "colour", "type": "choice", "choices": ["red", "green"]},
    {"name": "notes", "type": "textarea"},
    {"name": "empty"},
]

TYPED_VALUES = {
    "name": "Ada", "agreed": True, "declined": False, "day": "2026-03-04",
    "moment": "2026-03-04T10:15:30+00:00", "count": 3, "ratio": 2.5, "colour": "green",
    "notes": "line one\nline two",
}


def test_every_field_type_round_trips_unchanged(root):
    form = form_create("typed", fields=TYPED_FIELDS)
    record = Record.objects.create(form=form, values=dict(TYPED_VALUES))
    data = shown_form(root, record)
    everything_else = {name: f"changed by a block {name}" for name in TYPED_VALUES}
    Record.objects.filter(pk=record.pk).update(values=everything_else)

    response = root.post(f"/builder/records/{record.pk}/edit/", data)

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.values == everything_else  # the person changed nothing, so nothing was written


def test_changed_fields_of_every_type_are_written(root):
    form = form_create("typed", fields=TYPED_FIELDS)
    record = Record.objects.create(form=form, values=dict(TYPED_VALUES))
    data = shown_form(root, record)
    data.pop("agreed")
    data.update({"declined": "on", "day": "2026-05-06", "moment": "2026-05-06T08:00", "count": "4",
                 "colour": "red", "empty": "now set"})

    root.post(f"/builder/records/{record.pk}/edit/", data)

    record.refresh_from_db()
    assert record.values == {**TYPED_VALUES, "agreed": False, "declined": True, "day": "2026-05-06",
                             "moment": "2026-05-06T08:00:00+00:00", "count": 4, "colour": "red",
                             "empty": "now set"}


def test_an_invalid_post_keeps_what_the_page_first_showed(root):
    form = form_create("membership", fields=[{"name": "name"}, {"name": "email", "type": "email"},
                                             {"name": "field_b", "internal": True}])
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    data = shown_form(root, record)
    data.update({"name": "Ada L.", "email": "not an email"})
    parser = FormData()
    parser.feed(root.post(f"/builder/records/{record.pk}/edit/", data).content.decode())
    Record.objects.filter(pk=record.pk).update(values={**record.values, "field_b": "B"})

    parser.data["email"] = "ada@example.org"
    root.post(f"/builder/records/{record.pk}/edit/", parser.data)

    record.refresh_from_db()
    assert record.values == {"name": "Ada L.", "email": "ada@example.org", "field_b": "B"}


def test_only_changed_fields_reach_the_updated_trees(root, django_capture_on_commit_callbacks):
    form = form_create("membership", fields=REFERENCE_FIELDS)
    tree_create(form, [set_field("field_c", "{{ record.name }}/{{ record.field_b }}")],
                name="On update", event="updated")
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    data = shown_form(root, record)
    Record.objects.filter(pk=record.pk).update(values={**record.values, "field_b": "B"})
    data["name"] = "Ada L."
    with django_capture_on_commit_callbacks(execute=True):
        root.post(f"/builder/records/{record.pk}/edit/", data)
    record.refresh_from_db()
    assert record.values["field_c"] == "Ada L./B"


def runs_shown(page: str) -> list[str]:
    """The text of each run on the record page, newest first."""
    return [re.sub(r"<[^>]+>|\s+", " ", part).strip() for part in page.split('<div class="run')[1:]]


def test_an_edit_that_starts_runs_stays_in_the_builder_and_marks_its_runs(root, django_capture_on_commit_callbacks):
    # Fails on the old code: staff were sent to the visitor's post-submission page.
    form = form_create("membership", fields=[{"name": "name", "label": "Full <name>"}, {"name": "email"},
                                             {"name": "field_a", "internal": True}])
    tree_create(form, [set_field("field_a", "{{ record.name }}")], name="Copy the name", event="updated")
    tree_create(form, [action("log", message="updated")], name="Log it", event="updated")
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    data = shown_form(root, record)
    data["name"] = "Ada L."
    with django_capture_on_commit_callbacks(execute=True):
        root.post(f"/builder/records/{record.pk}/edit/", data)
    data = shown_form(root, record)
    data["email"] = "ada@example.org"

    with django_capture_on_commit_callbacks(execute=True):
        response = root.post(f"/builder/records/{record.pk}/edit/", data, follow=True)

    assert response.redirect_chain[-1][0].startswith(f"/builder/records/{record.pk}/")
    page = response.content.decode()
    assert "Saved Email. The edit started 2 runs: they are listed below." in page
    runs = runs_shown(page)
    assert len(runs) == 4
    assert ["started by this edit" in run for run in runs] == [True, True, False, False]


def test_the_message_names_the_changed_fields_escaped_and_an_edit_without_trees_starts_none(root):
    form = form_create("membership", fields=[{"name": "name", "label": "Full <name>"}, {"name": "email"}])
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    data = shown_form(root, record)
    data.update({"name": "Ada L.", "email": "ada@example.org"})

    page = root.post(f"/builder/records/{record.pk}/edit/", data, follow=True).content.decode()

    assert "Saved Full &lt;name&gt; and Email. No tree ran." in page
    assert "started by this edit" not in page


def test_a_refused_edit_keeps_the_form_with_the_message(root):
    form = form_create("membership", fields=[{"name": "name"}])
    tree_create(form, [action("fail", message="Not now, {{ record.name }}.")], name="Refuse", event="updated")
    record = Record.objects.create(form=form, values={"name": "Ada"})
    data = shown_form(root, record)
    data["name"] = "Ada L."

    response = root.post(f"/builder/records/{record.pk}/edit/", data)

    assert response.status_code == 200
    parser = FormData()
    parser.feed(response.content.decode())
    assert "Not now, Ada L.." in response.content.decode() and parser.data["name"] == "Ada L."
    record.refresh_from_db()
    assert record.values == {"name": "Ada"}
