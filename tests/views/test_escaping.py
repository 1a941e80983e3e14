"""Everything a builder or a visitor types is text: escaped on every page that shows it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings

from eventtree.models import Record
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db

PAYLOAD = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    return client


@pytest.fixture
def hostile_form():
    """A form in which every text a builder types tries to run script."""
    form = form_create("hostile", name=f"Form {PAYLOAD}", fields=[
        {"name": "name", "label": f"Name {PAYLOAD}", "help_text": f"Help {PAYLOAD}"},
        {"name": "topic", "type": "choice", "choices": [f"Topic {PAYLOAD}", "Other"]},
        {"name": "note", "internal": True, "help_text": f"Internal {PAYLOAD}"},
    ], success_message=f"Thanks {{{{ record.name }}}} {PAYLOAD}\nSecond line")
    tree_create(form, [{"kind": "background", "label": f"Block {PAYLOAD}",
                        "children": [action("log", message="x")]}], name=f"Tree {PAYLOAD}")
    return form


def assert_escaped(html: str) -> None:
    assert PAYLOAD not in html and "<img src=x" not in html
    assert "&amp;lt;" not in html  # escaped once, not twice


def test_help_texts_labels_and_choices_are_escaped_on_the_record_edit_page(root, hostile_form):
    record = Record.objects.create(form=hostile_form, values={"name": PAYLOAD, "topic": "Other"})
    html = root.get(f"/builder/records/{record.pk}/edit/").content.decode()
    assert_escaped(html.replace(f'value="{ESCAPED}"', ""))
    assert f"Help {ESCAPED}" in html and f"Internal {ESCAPED}" in html and f"Name {ESCAPED}" in html


def test_help_texts_and_choices_are_escaped_once_on_the_public_form(client, hostile_form):
    html = client.get("/f/hostile/").content.decode()
    assert_escaped(html)
    assert f"Help {ESCAPED}" in html and f"Topic {ESCAPED}" in html


def test_the_post_submission_message_is_text(client, hostile_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/hostile/", {"name": "<b>Ada</b>", "topic": "Other"})["Location"]
    html = client.get(url).content.decode()
    assert_escaped(html)
    assert f"Thanks &lt;b&gt;Ada&lt;/b&gt; {ESCAPED}<br>Second line" in html
    assert f"Block {ESCAPED}" in html


def test_the_plain_submitted_page_shows_the_message_as_text(client):
    form_create("plain", fields=[{"name": "name"}], success_message=f"Got it {PAYLOAD}")
    html = client.get("/f/plain/submitted/").content.decode()
    assert_escaped(html)
    assert f"Got it {ESCAPED}" in html


def test_an_invalid_message_template_does_not_break_the_status_page(client, caplog,
                                                                    django_capture_on_commit_callbacks):
    form = form_create("broken", fields=[{"name": "name"}],
                       success_message="Thanks {{ record.name|nosuchfilter }} {% if %}")
    tree_create(form, [{"kind": "background", "children": [action("log", message="x")]}])
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/broken/", {"name": "Ada"})["Location"]

    with caplog.at_level(logging.ERROR):
        page = client.get(url)
    assert page.status_code == 200
    assert "Processing" in page.content.decode()
    assert "message of form broken" in caplog.text
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    assert client.get(url + "status.json").status_code == 200


def test_builder_pages_escape_names_labels_and_values(root, hostile_form):
    record = Record.objects.create(form=hostile_form, values={"name": PAYLOAD, "gone": PAYLOAD})
    tree = hostile_form.trees.get()
    for url in ("/builder/", "/builder/forms/hostile/", f"/builder/trees/{tree.pk}/",
                "/builder/forms/hostile/records/", f"/builder/records/{record.pk}/",
                f"/admin/eventtree/record/{record.pk}/change/", "/admin/eventtree/field/"):
        response = root.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert ESCAPED in page, url  # the text is there, shown as text
        assert_escaped(page.replace(f'value="{ESCAPED}"', ""))


def test_no_template_marks_text_safe_or_runs_inline_script():
    """Inline handlers would need 'unsafe-inline' in a Content-Security-Policy; `|safe` skips escaping."""
    offenders = []
    templates = list(Path(settings.BASE_DIR, "templates").rglob("*.html"))
    assert len(templates) > 10  # the templates were found
    for path in templates:
        text = path.read_text()
        for marker in ("onclick=", "onsubmit=", "onchange=", "onload=", "hx-on", "|safe", "autoescape off"):
            if marker in text:
                offenders.append(f"{path.name}: {marker}")
    assert offenders == []
