"""The tree editor's Test run panel (DESIGN §3.9): eventtree/views/builder/testrun.py."""

from __future__ import annotations

import html as html_text
import re
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client

from eventtree.models import Node, Record
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, tree_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ADA = {"sample-name": "Ada", "sample-email": "ada@example.com"}


@pytest.fixture
def tree():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    return tree_create(form, reference_tree_nodes())


@pytest.fixture
def builder(client: Client) -> Client:
    client.force_login(staff_create("builder", "eventtree.view_eventtree", "eventtree.view_record"))
    return client


def everything() -> dict[str, Any]:
    models = [*apps.get_app_config("eventtree").get_models(), *apps.get_app_config("django_q").get_models()]
    return {"rows": {model._meta.db_table: list(model.objects.order_by("pk").values()) for model in models},
            "mail": len(mail.outbox)}


def text(html: str) -> str:
    """What a reader sees of some HTML: its text, whitespace collapsed."""
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", html)).split()).replace(" :", ":").replace(" .", ".")


def marks(html: str) -> dict[int, str]:
    """Each node's id and the text of its test mark, as the page shows them."""
    found = {}
    for node_id, item in re.findall(r'<li class="node" id="node-(\d+)"(.*?)(?=<li class="node"|\Z)', html, re.S):
        mark = re.search(r'<div class="test-step[^"]*">(.*?)</div>', item, re.S)
        if mark:
            found[int(node_id)] = text(mark.group(1))
    return found


def test_the_editor_offers_a_test_run_that_works_without_javascript(builder, tree):
    page = builder.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert 'href="/builder/trees/%d/test/"' % tree.pk in page

    form_page = builder.get(f"/builder/trees/{tree.pk}/test/")
    assert form_page.status_code == 200
    body = form_page.content.decode()
    assert 'name="sample-name"' in body and 'name="sample-email"' in body and 'name="sample-field_a"' not in body
    assert "Run test" in body


def test_a_plain_post_renders_the_page_with_every_node_marked(builder, tree):
    before = everything()
    record_count = Record.objects.count()

    response = builder.post(f"/builder/trees/{tree.pk}/test/", ADA)

    assert response.status_code == 200
    html = response.content.decode()
    nodes = {(node.parent_id is not None, node.position): node.pk for node in Node.objects.filter(tree=tree)}
    shown = marks(html)
    assert shown[nodes[(False, 0)]] == "ran before redirect field_a = 'A:Ada'"
    assert shown[nodes[(False, 1)]] == "deferred before redirect would run in a worker right after the submit"
    assert shown[nodes[(False, 2)]] == "ran before redirect field_d = 'D'"
    assert shown[nodes[(True, 0)]] == "ran in background field_b = 'B'"
    assert shown[nodes[(True, 2)]].startswith("ran in background would send an email to ada@example.com")
    assert "Subject Welcome Ada" in shown[nodes[(True, 2)]]
    assert "Everything would run." in text(html)
    assert "<html" in html
    assert Record.objects.count() == record_count
    assert everything() == before


def test_an_htmx_post_swaps_the_tree_and_the_panel(builder, tree):
    response = builder.post(f"/builder/trees/{tree.pk}/test/", ADA, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section id="tree"')
    assert '<section id="test-run" class="panel test-run"' in html and 'hx-swap-oob="true"' in html
    assert len(marks(html)) == 6


def test_a_refused_submit_and_a_node_not_reached_are_marked(builder, tree):
    Node.objects.filter(tree=tree, parent=None, position=2).update(position=3)
    Node.objects.create(tree=tree, position=2, kind="action", action="fail", config={"message": "Closed today"})

    html = builder.post(f"/builder/trees/{tree.pk}/test/", ADA).content.decode()

    assert "The submit would be refused: Closed today" in text(html)
    shown = marks(html)
    failed = Node.objects.get(tree=tree, action="fail").pk
    last = Node.objects.get(tree=tree, parent=None, position=3).pk
    assert shown[failed].startswith("failed before redirect")
    assert shown[last] == "not reached"
    assert sum(text == "not reached" for text in shown.values()) == 4  # field_d and the three in the block


def test_invalid_sample_values_show_the_errors_and_run_nothing(builder, tree):
    response = builder.post(f"/builder/trees/{tree.pk}/test/", {"sample-name": "Ada", "sample-email": "nope"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html and marks(html) == {}

    htmx = builder.post(f"/builder/trees/{tree.pk}/test/", {"sample-name": "Ada"}, **HTMX)
    assert htmx.status_code == 200 and "This field is required." in htmx.content.decode()


def test_an_existing_record_can_be_picked_and_is_left_as_it_was(builder, tree):
    record = Record.objects.create(form=tree.form, values={"name": "Cy", "email": "cy@example.com"})
    page = builder.get(f"/builder/trees/{tree.pk}/test/").content.decode()
    assert f'<option value="{record.pk}">#{record.pk} · ' in page

    html = builder.post(f"/builder/trees/{tree.pk}/test/", {"record": record.pk}).content.decode()

    assert "field_a = &#x27;A:Cy&#x27;" in html
    record.refresh_from_db()
    assert record.values == {"name": "Cy", "email": "cy@example.com"}


def test_the_test_run_needs_view_eventtree_and_picking_a_record_view_record(client, tree):
    record = Record.objects.create(form=tree.form, values={"name": "Cy", "email": "cy@example.com"})
    url = f"/builder/trees/{tree.pk}/test/"
    client.force_login(staff_create("records-only", "eventtree.view_record"))
    assert client.get(url).status_code == 403
    assert client.post(url, ADA).status_code == 403

    client.force_login(staff_create("trees-only", "eventtree.view_eventtree"))
    page = client.get(url).content.decode()
    assert 'name="record"' not in page
    assert client.post(url, {"record": record.pk}).status_code == 403
    assert client.post(url, ADA).status_code == 200


def test_what_the_run_shows_is_escaped_text(builder):
    form = form_create("hostile", fields=[{"name": "name", "required": True}, {"name": "note", "internal": True}])
    tree = tree_create(form, [
        {"kind": "action", "action": "set_field", "label": "<i>label</i>",
         "config": {"field": "note", "value": "{{ record.name }}"}},
        action("fail", message="<b>stop</b> {{ record.name }}"),
    ])

    html = builder.post(f"/builder/trees/{tree.pk}/test/", {"sample-name": "<script>alert(1)</script>"}).content.decode()

    assert "<script>alert(1)</script>" not in html and "<b>stop</b>" not in html and "<i>label</i>" not in html
    assert "note = &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;" in html
    assert "The submit would be refused: <b>stop</b> <script>alert(1)</script>" in text(html)
    assert "&lt;b&gt;stop&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;" in html
