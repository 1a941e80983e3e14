"""The tree editor's tools as builders expect them (issue 11): field pickers that lose nothing,
the variables a template may use and its preview, duplicating a node, a delete that asks first
without JavaScript, and controls named after their node."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from eventtree.engine.trees import tree_load
from eventtree.models import Node
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def select_options(html: str, name: str) -> list[tuple[str, str, bool]]:
    """The options of the <select name=`name`> in `html`: (value, text, selected)."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name}>"
    return [(value, text.strip(), bool(selected))
            for value, selected, text in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))]


@pytest.fixture
def shop():
    form = form_create("shop", fields=[
        {"name": "name", "label": "Your name"}, {"name": "email", "type": "email"},
        {"name": "when", "type": "date"}, {"name": "status", "type": "choice", "choices": ["Open", "Won"]},
        {"name": "paid", "internal": True},
    ])
    return form, tree_create(form, [
        {**set_field("paid", "yes"), "label": "Mark paid"},
        {"kind": "condition", "field": "status", "op": "eq", "value": "Won", "children": []},
        {"kind": "delay", "field": "when", "offset_seconds": 3600, "children": []},
        action("set_flag", name="done", field="paid"),
    ])


def test_every_key_that_names_a_field_is_a_select_of_the_forms_fields(staff: Client, shop):
    _, tree = shop
    nodes = {node.kind if node.kind != "action" else node.action: node for node in tree.nodes.all()}

    set_field_page = staff.get(f"/builder/nodes/{nodes['set_field'].pk}/", **HTMX).content.decode()
    assert select_options(set_field_page, "config-field") == [
        ("", "Choose a field…", False), ("name", "name · Your name", False), ("email", "email", False),
        ("when", "when", False), ("status", "status", False), ("paid", "paid", True)]
    flag_page = staff.get(f"/builder/nodes/{nodes['set_flag'].pk}/", **HTMX).content.decode()
    assert select_options(flag_page, "config-field")[0] == ("", "(none)", False)  # optional: may name none
    condition_page = staff.get(f"/builder/nodes/{nodes['condition'].pk}/", **HTMX).content.decode()
    assert [value for value, _, selected in select_options(condition_page, "config-field") if selected] == ["status"]
    delay_page = staff.get(f"/builder/nodes/{nodes['delay'].pk}/", **HTMX).content.decode()
    assert select_options(delay_page, "config-field") == [  # a moment: only the date fields
        ("", "the submit (a duration)", False), ("when", "when", True)]


def test_a_field_that_is_gone_stays_selected_marked_missing_and_saving_it_is_refused(staff: Client, shop):
    form, tree = shop
    nodes = {node.kind: node for node in tree.nodes.exclude(action="set_flag")}
    form.fields.filter(name__in=["paid", "status", "when"]).delete()

    for node in nodes.values():
        page = staff.get(f"/builder/nodes/{node.pk}/", **HTMX).content.decode()
        selected = [(value, text) for value, text, chosen in select_options(page, "config-field") if chosen]
        assert selected == [(node.config["field"], f"{node.config['field']} (missing)")], node.kind

    refused = staff.post(f"/builder/nodes/{nodes['action'].pk}/", {
        "label": "Mark paid", "config-field": "paid", "config-value": "yes"}, **HTMX)
    assert "the form has no field named &#x27;paid&#x27;" in refused.content.decode()
    assert Node.objects.get(pk=nodes["action"].pk).config == {"field": "paid", "value": "yes"}  # nothing lost


def test_two_edit_forms_open_at_once_have_no_id_in_common(staff: Client, shop):
    _, tree = shop
    first, second = tree.nodes.order_by("position")[:2]
    ids = [re.findall(r' id="([^"]+)"', staff.get(f"/builder/nodes/{node.pk}/", **HTMX).content.decode().split("<form")[1].split("</form>")[0])
           for node in (first, second)]
    assert ids[0] and ids[1] and not set(ids[0]) & set(ids[1])
    page = staff.get(f"/builder/nodes/{first.pk}/", **HTMX).content.decode()
    assert f'<label for="n{first.pk}-config-field">' in page and f'id="n{first.pk}-config-field"' in page


def test_template_inputs_list_their_variables_and_a_preview_renders_them_escaped(staff: Client, shop):
    _, tree = shop
    node = tree.nodes.get(action="set_field")

    page = staff.get(f"/builder/nodes/{node.pk}/", **HTMX).content.decode()
    variables = re.search(rf'<p id="vars-{node.pk}"[^>]*>(.*?)</p>', page, re.S).group(1)
    for name in ("record.name", "record.email", "record.paid", "record.id", "run.tree", "flags.&lt;name&gt;"):
        assert f"<code>{{{{ {name} }}}}</code>" in variables
    value_input = re.search(r'<input type="text" name="config-value"[^>]*>', page).group(0)
    assert f'aria-describedby="n{node.pk}-config-value_helptext vars-{node.pk}"' in value_input
    assert f'hx-post="/builder/nodes/{node.pk}/preview/"' in page

    preview = staff.post(f"/builder/nodes/{node.pk}/preview/", {
        "config-field": "paid", "config-value": "<b>{{ record.name|upper }}</b> for {{ run.tree }}"}, **HTMX)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "<samp>&lt;b&gt;SAMPLE YOUR NAME&lt;/b&gt; for On submit</samp>" in body
    assert "<dt>record.email</dt><dd>ada@example.com</dd>" in body
    assert "<b>" not in body

    broken = staff.post(f"/builder/nodes/{node.pk}/preview/", {"config-value": "{% include 'secrets.txt' %}"}, **HTMX)
    assert 'class="preview-error">Template error: Invalid block tag' in broken.content.decode()
    assert Node.objects.get(pk=node.pk).config == {"field": "paid", "value": "yes"}  # a preview saves nothing


def test_a_preview_of_every_template_of_an_email_and_of_a_new_records_values(staff: Client, shop):
    form, tree = shop
    email = Node.objects.create(tree=tree, position=9, kind="action", action="send_email", config={})
    create = Node.objects.create(tree=tree, position=10, kind="action", action="create_record", config={})

    body = staff.post(f"/builder/nodes/{email.pk}/preview/", {
        "config-to": "{{ record.email }}", "config-subject": "Hi {% if %}", "config-body": ""}, **HTMX).content.decode()
    assert re.findall(r"<dt>([^<]+)</dt>\s*<dd>", body.split("preview-sample")[0]) == ["To", "Subject", "Body"]
    assert "<samp>ada@example.com</samp>" in body and "Template error" in body and "(empty)" in body

    values = json.dumps({"who": "{{ record.name }}", "bad": "{% if %}"})
    body = staff.post(f"/builder/nodes/{create.pk}/preview/", {"config-form": "x", "config-values": values},
                      **HTMX).content.decode()
    assert "<dt>Values: who</dt>" in body and "<samp>Sample your name</samp>" in body
    assert "<dt>Values: bad</dt>" in body and "Template error" in body


def test_nodes_without_templates_have_no_preview(staff: Client, shop):
    _, tree = shop
    page = staff.get(f"/builder/nodes/{tree.nodes.get(kind='condition').pk}/", **HTMX).content.decode()
    assert "template-preview" not in page and "vars-" not in page


def test_duplicate_copies_the_node_and_its_subtree_right_after_it(staff: Client, django_assert_max_num_queries):
    form = form_create("dup")
    tree = tree_create(form, [
        action("log", message="first"),
        {"kind": "background", "label": "Later", "children": [
            action("log", message="inside", children=[action("log", message="on error")]),
            {"kind": "condition", "field": "name", "op": "is_set", "children": [action("log", message="deep")]}]},
        action("log", message="last"),
    ])
    background = tree.nodes.get(kind="background")

    with django_assert_max_num_queries(20):
        response = staff.post(f"/builder/nodes/{background.pk}/duplicate/", **HTMX)

    roots = tree_load(tree.pk)
    copy = roots[2]
    assert [node.label or node.config.get("message") for node in roots] == ["first", "Later", "Later", "last"]
    assert copy.pk != background.pk

    def shape(node):
        return (node.kind, node.label, node.config, [shape(child) for child in node.child_nodes])

    assert shape(copy) == shape(roots[1])
    assert {node.pk for node in tree.nodes.all()} >= {child.pk for child in copy.child_nodes}
    body = response.content.decode()
    assert response["HX-Reswap"] == "none"
    assert f'<div hx-swap-oob="afterend:#node-{background.pk}">' in body  # right after the original
    assert body.count('<li class="node"') == 5  # the copy and its four nodes
    focus = json.loads(response["HX-Trigger-After-Settle"])["eventtree:changed"]["focus"]
    assert focus == f"#card-{copy.pk} .node-tools > a"


def test_duplicate_without_javascript_comes_back_to_the_tree_and_says_so(staff: Client, shop):
    _, tree = shop
    node = tree.nodes.get(action="set_field")
    response = staff.post(f"/builder/nodes/{node.pk}/duplicate/", follow=True)
    assert response.redirect_chain == [(f"/builder/trees/{tree.pk}/", 302)]
    assert "Duplicated “Mark paid”: the copy is right after it." in response.content.decode()
    assert tree.nodes.filter(label="Mark paid").count() == 2


def test_a_duplicate_of_a_node_deleted_meanwhile_answers_404(staff: Client, shop):
    _, tree = shop
    node = tree.nodes.get(action="set_field")
    Node.objects.filter(pk=node.pk).delete()  # another builder's delete came first
    assert staff.post(f"/builder/nodes/{node.pk}/duplicate/", **HTMX).status_code == 404


def test_delete_without_javascript_asks_on_a_page_then_deletes(staff: Client, shop):
    _, tree = shop
    node = tree.nodes.get(action="set_field")

    question = staff.get(f"/builder/nodes/{node.pk}/delete/")
    body = question.content.decode()
    assert question.status_code == 200 and "<h1>Delete “Mark paid”?</h1>" in body
    assert "inside it" not in body  # an action alone
    assert f'href="/builder/nodes/{node.pk}/">Keep it</a>' in body
    assert Node.objects.filter(pk=node.pk).exists()

    deleted = staff.post(f"/builder/nodes/{node.pk}/delete/")
    assert deleted["Location"] == f"/builder/trees/{tree.pk}/" and not Node.objects.filter(pk=node.pk).exists()


def test_the_page_names_each_node_in_its_controls_and_its_error_port_in_words(staff: Client, shop):
    _, tree = shop
    set_flag = tree.nodes.get(action="set_flag")
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()

    assert 'aria-label="Edit “Mark paid”">Edit</a>' in page  # its label
    assert f'href="/builder/nodes/{set_flag.pk}/" aria-label="Edit “flag done and paid”">Edit</a>' in page  # its summary
    assert 'class="node-list error-port" aria-label="If this fails"' in page
    tools = re.search(r'<template id="node-tools">(.*?)</template>', page, re.S).group(1)
    for words in ("Move “{}” up", "Move “{}” down", "Indent “{}”", "Outdent “{}”", "Add a node after “{}”",
                  "Add a node inside “{}”", "Add a node to run if “{}” fails", "Duplicate “{}”", "Delete “{}”"):
        assert words in tools
    assert 'data-op="duplicate"' in tools and '<div id="request-error" role="alert"></div>' in page

    opened = staff.get(f"/builder/nodes/{set_flag.pk}/", **HTMX).content.decode()
    assert 'aria-label="Save “flag done and paid”">Save</button>' in opened
    assert 'aria-label="Cancel editing “flag done and paid”">Cancel</a>' in opened


def test_the_add_menu_puts_focus_on_its_first_choice(staff: Client, shop):
    _, tree = shop
    node = tree.nodes.get(action="set_field")
    menu = staff.get(f"/builder/trees/{tree.pk}/nodes/add/?after={node.pk}", **HTMX)
    assert json.loads(menu["HX-Trigger-After-Settle"])["eventtree:focus"]["focus"] == f"#card-{node.pk} .add-menu button"
    root = staff.get(f"/builder/trees/{tree.pk}/nodes/add/", **HTMX)
    assert json.loads(root["HX-Trigger-After-Settle"])["eventtree:focus"]["focus"] == "#menu-root .add-menu button"
