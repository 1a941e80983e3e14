"""The builder's pages and htmx partials (eventtree/views/builder/)."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, reverse

from eventtree import builder_urls
from eventtree.models import EventTree, Field, Form, Node, Record, Submission
from tests.factories import action, form_create, set_field, tree_create
from tests.views.staff import BUILDER_PERMISSIONS, staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def builder_urls_with_args(form, tree) -> list[str]:
    node = tree.nodes.first()
    field = form.fields.first()
    record = Record.objects.create(form=form, values={"name": "x"})
    values = {"slug": form.slug, "tree_id": tree.pk, "node_id": node.pk, "field_id": field.pk,
              "record_id": record.pk, "block_id": 1, "number": 1, "run_id": 1, "import_id": 1}
    urls = []
    for pattern in builder_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
        urls.append(reverse(f"builder:{pattern.name}", kwargs={name: values[name] for name in names}))
    return urls


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_every_builder_url_needs_a_staff_login(client, django_user_model, membership, who):
    form, tree = membership
    if who == "non-staff":
        client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    urls = builder_urls_with_args(form, tree)
    assert len(urls) == len(builder_urls.urlpatterns) >= 20
    for url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 403), url
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/"), url
    assert Form.objects.count() == 1 and Node.objects.count() == 6  # nothing changed


def test_builder_home_lists_forms_and_trees(staff, membership):
    page = staff.get("/builder/").content.decode()
    assert "Membership application" in page and "On submit" in page


def test_create_a_form_and_its_fields(staff):
    response = staff.post("/builder/", {"name": "Contact us", "slug": ""})
    assert response["Location"] == "/builder/forms/contact-us/"
    form = Form.objects.get(slug="contact-us")

    added = staff.post(f"/builder/forms/{form.slug}/fields/add/",
                       {"field-name": "topic", "field-type": "choice", "field-choices": "Sales\nSupport",
                        "field-required": "on"}, **HTMX)
    assert added.status_code == 200 and 'id="fields"' in added.content.decode()
    assert "<html" not in added.content.decode()
    field = Field.objects.get(form=form)
    assert (field.name, field.type, field.choices, field.required) == ("topic", "choice", ["Sales", "Support"], True)

    duplicate = staff.post(f"/builder/forms/{form.slug}/fields/add/", {"field-name": "topic", "field-type": "text"}, **HTMX)
    assert "has a field named" in duplicate.content.decode()
    bad = staff.post(f"/builder/forms/{form.slug}/fields/add/", {"field-name": "Bad Name", "field-type": "text"}, **HTMX)
    assert "lower-case letters" in bad.content.decode()
    assert Field.objects.filter(form=form).count() == 1


def test_edit_reorder_and_delete_fields(staff, membership):
    form, _ = membership
    email = form.fields.get(name="email")
    staff.post(f"/builder/forms/membership/fields/{email.pk}/",
               {"edit-name": "email", "edit-label": "E-mail", "edit-type": "email", "edit-required": "on"}, **HTMX)
    staff.post(f"/builder/forms/membership/fields/{email.pk}/move/", {"direction": "up"}, **HTMX)
    spare = Field.objects.create(form=form, name="spare", position=9)
    staff.post(f"/builder/forms/membership/fields/{spare.pk}/delete/", **HTMX)
    assert list(form.fields.values_list("name", flat=True)) == ["email", "name", "field_a", "field_b", "field_c", "field_d"]
    assert form.fields.get(name="email").label == "E-mail"


def test_form_settings_change_in_place(staff, membership):
    response = staff.post("/builder/forms/membership/", {
        "settings-name": "Membership", "settings-slug": "membership",
        "settings-success_message": "Hi {{ record.name }}", "settings-completion_flags": "welcomed, paid",
    }, **HTMX)
    assert "Saved." in response.content.decode()
    form = Form.objects.get()
    assert (form.name, form.completion_flags) == ("Membership", ["welcomed", "paid"])


def test_tree_editor_shows_phases_and_marks_invalid_nodes(staff, membership):
    form, tree = membership
    tree_create(form, [set_field("gone_field", "x")], name="Broken")
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert page.count("before redirect") >= 3  # two actions and the legend
    assert page.count("in background") >= 4  # the background, its three children, the legend
    broken = staff.get(f"/builder/trees/{EventTree.objects.get(name='Broken').pk}/").content.decode()
    assert "needs attention" in broken and "no field named &#x27;gone_field&#x27;" in broken
    assert "this draft cannot be published until it is fixed" in broken


def test_add_a_node_returns_the_tree_with_its_edit_form_open(staff, membership):
    _, tree = membership
    menu = staff.get(f"/builder/trees/{tree.pk}/nodes/add/?index=1", **HTMX).content.decode()
    assert 'value="action:send_email"' in menu and 'value="delay"' in menu

    response = staff.post(f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "delay", "index": "1"}, **HTMX)

    # Only the new node, with its edit form open, goes in, right after the first root node.
    body = response.content.decode()
    first, delay = Node.objects.get(tree=tree, parent=None, position=0), Node.objects.get(kind="delay")
    assert re.search(rf'hx-swap-oob="afterend:#node-{first.pk}">\s*<li class="node" id="node-{delay.pk}">', body)
    assert 'class="node-edit"' in body and '<section id="tree"' not in body
    kinds = [n.kind for n in Node.objects.filter(tree=tree, parent=None).order_by("position")]
    assert kinds == ["action", "delay", "background", "action"]


def test_edit_a_node_validates_inline(staff, membership):
    _, tree = membership
    node = Node.objects.get(tree=tree, config__field="field_a")
    invalid = staff.post(f"/builder/nodes/{node.pk}/", {"label": "", "config-field": "nope", "config-value": "{{ record.name|nosuchfilter }}"}, **HTMX)
    body = invalid.content.decode()
    assert "Template error" in body
    node.refresh_from_db()
    assert node.config["field"] == "field_a"

    unknown = staff.post(f"/builder/nodes/{node.pk}/", {"label": "", "config-field": "nope", "config-value": "x"}, **HTMX)
    assert "no field named" in unknown.content.decode()

    staff.post(f"/builder/nodes/{node.pk}/", {"label": "First", "config-field": "field_b", "config-value": "X"}, **HTMX)
    node.refresh_from_db()
    assert (node.label, node.config) == ("First", {"field": "field_b", "value": "X"})


def test_edit_a_delay_and_a_condition(staff):
    form = form_create("visits", fields=[{"name": "appointment", "type": "date"}, {"name": "status"}])
    tree = tree_create(form, [{"kind": "delay", "seconds": 0}, {"kind": "condition", "field": "status", "op": "eq", "value": "x"}])
    delay, condition = Node.objects.order_by("position")
    staff.post(f"/builder/nodes/{delay.pk}/", {"label": "", "config-field": "appointment", "config-amount": "1",
                                               "config-unit": "86400", "config-direction": "before"}, **HTMX)
    staff.post(f"/builder/nodes/{condition.pk}/", {"label": "", "config-field": "status", "config-op": "is_set"}, **HTMX)
    delay.refresh_from_db()
    condition.refresh_from_db()
    assert delay.config == {"field": "appointment", "offset_seconds": -86400}
    assert condition.config == {"field": "status", "op": "is_set"}
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert "after delay 1 d before appointment" in page


def test_moves_and_delete_through_the_views(staff, membership):
    _, tree = membership
    field_d = Node.objects.get(config__field="field_d")
    staff.post(f"/builder/nodes/{field_d.pk}/move/", {"direction": "up"}, **HTMX)
    background = Node.objects.get(kind="background")
    refused = staff.post(f"/builder/nodes/{background.pk}/move/", {"parent": background.children.first().pk, "index": 0}, **HTMX)
    assert "cannot move under itself" in refused.content.decode()
    staff.post(f"/builder/nodes/{background.pk}/delete/", **HTMX)
    assert list(Node.objects.filter(tree=tree).order_by("position").values_list("config__field", flat=True)) == [
        "field_a", "field_d"]


def test_without_javascript_every_change_redirects_back(staff, membership):
    _, tree = membership
    node = Node.objects.get(config__field="field_d")
    response = staff.post(f"/builder/nodes/{node.pk}/move/", {"direction": "up"})
    assert response.status_code == 302 and response["Location"] == f"/builder/trees/{tree.pk}/"
    page = staff.get(f"/builder/nodes/{node.pk}/")
    assert 'name="config-value"' in page.content.decode() and "<html" in page.content.decode()


def test_tree_settings_switch_the_run_mode(staff, membership):
    _, tree = membership
    response = staff.post(f"/builder/trees/{tree.pk}/settings/", {
        "tree-name": "Renamed", "tree-event": "submitted", "tree-mode": "async", "tree-active": "on",
        "tree-max_attempts": "2"}, **HTMX)
    body = response.content.decode()
    assert 'id="editor"' in body and "before redirect</span>" not in body.split('id="tree"')[1]
    tree.refresh_from_db()
    assert (tree.name, tree.mode, tree.max_attempts) == ("Renamed", "async", 2)


def test_editor_queries_do_not_grow_with_the_tree(staff, django_assert_max_num_queries):
    form = form_create("big", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    nodes = []
    for i in range(100):
        nodes.append({"kind": "background", "children": [
            {"kind": "condition", "field": "name", "op": "eq", "value": str(i),
             "children": [set_field("out", f"{i}")]}]})
    tree = tree_create(form, nodes)
    assert tree.nodes.count() == 300
    with django_assert_max_num_queries(8):
        response = staff.get(f"/builder/trees/{tree.pk}/")
    assert response.content.decode().count('<li class="node"') == 300
    with django_assert_max_num_queries(8):
        staff.get(f"/builder/trees/{tree.pk}/", **HTMX)


def test_concurrent_edits_of_one_tree_lose_neither(client, django_user_model, membership):
    _, tree = membership
    alice, bob = Client(), Client()
    alice.force_login(staff_create("alice", *BUILDER_PERMISSIONS))
    bob.force_login(staff_create("bob", *BUILDER_PERMISSIONS))
    alice.get(f"/builder/trees/{tree.pk}/")  # both have the same page open
    bob.get(f"/builder/trees/{tree.pk}/")

    alice.post(f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "action:log", "index": "0"}, **HTMX)
    field_d = Node.objects.get(config__field="field_d")
    bob.post(f"/builder/nodes/{field_d.pk}/", {"label": "Last", "config-field": "field_d", "config-value": "DD"}, **HTMX)
    bob.post(f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "condition", "index": "0"}, **HTMX)

    roots = list(Node.objects.filter(tree=tree, parent=None).order_by("position"))
    assert [n.kind for n in roots] == ["condition", "action", "action", "background", "action"]
    assert roots[1].action == "log" and roots[-1].config["value"] == "DD"


def test_import_and_export_from_the_editor(staff, membership):
    exported = staff.get("/builder/forms/membership/export/")
    assert exported["Content-Disposition"] == 'attachment; filename="membership.json"'
    package = json.loads(exported.content)
    Form.objects.all().delete()

    upload = SimpleUploadedFile("membership.json", exported.content, content_type="application/json")
    response = staff.post("/builder/import/", {"package": upload})
    assert response["Location"] == "/builder/forms/membership/"
    assert json.loads(staff.get("/builder/forms/membership/export/").content) == package

    package["trees"][0]["nodes"][0]["action"] = "sned_email"
    bad = SimpleUploadedFile("bad.json", json.dumps(package).encode(), content_type="application/json")
    refused = staff.post("/builder/import/", {"package": bad, "replace": "on"})
    assert refused.status_code == 400
    assert "trees[0].nodes[0]: unknown action type &#x27;sned_email&#x27;" in refused.content.decode()
    assert Node.objects.filter(action="sned_email").count() == 0


def test_delete_a_form_after_confirmation(staff, membership):
    confirm = staff.get("/builder/forms/membership/delete/")
    assert "cannot be undone" in confirm.content.decode()
    assert staff.post("/builder/forms/membership/delete/")["Location"] == "/builder/"
    assert Form.objects.count() == 0


def test_records_list_search_and_pagination(staff, membership):
    form, _ = membership
    for i in range(30):
        Record.objects.create(form=form, values={"name": f"Person {i}", "email": f"p{i}@example.com"})
    page = staff.get("/builder/forms/membership/records/").content.decode()
    assert "30 records" in page and "Page 1 of 2" in page
    found = staff.get("/builder/forms/membership/records/?q=person 17").content.decode()
    assert "1 record matching" in found and "p17@example.com" in found


def test_record_page_and_edit_fires_the_updated_trees(staff, membership, django_capture_on_commit_callbacks):
    form, _ = membership
    tree_create(form, [set_field("field_c", "updated {{ record.name }}"),
                       {"kind": "background", "children": [action("log", message="after edit")]}],
                name="On update", event="updated")
    record = Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    assert "Ada" in staff.get(f"/builder/records/{record.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/builder/records/{record.pk}/edit/",
                              {"name": "Ada L.", "email": "ada@example.com", "field_a": "", "field_b": "",
                               "field_c": "", "field_d": ""})

    submission = Submission.objects.get()
    assert response["Location"] == f"/builder/records/{record.pk}/?edit={submission.pk}"  # staff stay in the builder
    record.refresh_from_db()
    assert record.values["name"] == "Ada L." and record.values["field_c"] == "updated Ada L."
    runs = staff.get(f"/builder/records/{record.pk}/").content.decode()
    assert "On update" in runs


def test_cancel_a_pending_block_and_retry_a_failed_one_from_the_record_page(
        staff, membership, django_capture_on_commit_callbacks, drain_blocks):
    from eventtree.models import Block, BlockState, Run
    from eventtree.services.records import record_submit

    form, _ = membership
    tree_create(form, [{"kind": "background", "label": "Flaky", "children": [
        {"kind": "condition", "field": "field_d", "op": "ne", "value": "ok",
         "children": [action("fail", message="not yet")]}]}],
        name="Second", max_attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    reference, flaky = Block.objects.order_by("id")
    page = staff.get(f"/builder/records/{record.pk}/").content.decode()
    assert page.count(">Cancel</button>") == 2 and ">Retry</button>" not in page

    response = staff.post(f"/builder/blocks/{reference.pk}/cancel/", follow=True)

    assert f"Block “{reference.label}” cancelled." in response.content.decode()
    drain_blocks()
    record.refresh_from_db()
    assert "field_b" not in record.values  # the cancelled block never ran
    assert Block.objects.get(pk=flaky.pk).state == BlockState.FAILED
    assert Run.objects.get(tree__name="Second").status == "failed"
    page = staff.get(f"/builder/records/{record.pk}/").content.decode()
    assert ">cancelled<" in page and ">Retry</button>" in page

    Record.objects.filter(pk=record.pk).update(values={**record.values, "field_d": "ok"})
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/builder/blocks/{flaky.pk}/retry/")
    drain_blocks()

    flaky.refresh_from_db()
    assert (flaky.state, flaky.attempts) == (BlockState.DONE, 2)
    assert Run.objects.get(tree__name="Second").status == "done"
    refused = staff.post(f"/builder/blocks/{flaky.pk}/cancel/", follow=True).content.decode()
    assert "Only a pending block can be cancelled" in refused
    from_htmx = staff.post(f"/builder/blocks/{flaky.pk}/cancel/", **HTMX)  # hx-confirm'ed in the page
    assert from_htmx["HX-Redirect"] == f"/builder/records/{record.pk}/"


# Builder input that made every later submit fail (issue 8): refused where it is typed, with the
# message, and nothing saved. Each of these tests fails on 33342d1.


@pytest.fixture
def superuser(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", password="pw"))
    return client


@pytest.mark.parametrize("text", ["NaN", "1e309"])
def test_builder_refuses_a_number_default_that_is_not_finite(superuser, text):
    form = form_create("numbers", fields=[{"name": "name"}])

    response = superuser.post(f"/builder/forms/{form.slug}/fields/add/",
                              {"field-name": "visits", "field-type": "number", "field-default": text}, **HTMX)

    assert response.status_code == 200  # htmx swaps only a 2xx answer: the refusal is shown
    assert "not a finite number" in response.content.decode()
    assert not Field.objects.filter(name="visits").exists()


def test_builder_refuses_a_delay_of_more_than_ten_years(superuser):
    form = form_create("waits", fields=[{"name": "name"}])
    tree = tree_create(form, [{"kind": "delay", "seconds": 60}])
    node = tree.nodes.get()

    response = superuser.post(f"/builder/nodes/{node.pk}/", {
        "label": "", "config-field": "", "config-amount": str(10**12), "config-unit": "1",
        "config-direction": "after"}, **HTMX)

    assert response.status_code == 200  # htmx swaps only a 2xx answer: the refusal is shown
    assert "A delay is at most 10 years" in response.content.decode()
    node.refresh_from_db()
    assert node.config == {"seconds": 60}


def test_builder_refuses_a_post_submission_message_that_is_not_a_template(superuser):
    form = form_create("thanks", fields=[{"name": "name"}])

    response = superuser.post(f"/builder/forms/{form.slug}/", {
        "settings-name": "Thanks", "settings-slug": "thanks",
        "settings-success_message": "Thank you {{ record.name|nosuchfilter }}"}, **HTMX)

    assert response.status_code == 200  # htmx swaps only a 2xx answer: the refusal is shown
    assert "Template error: Invalid filter: &#x27;nosuchfilter&#x27;" in response.content.decode()
    form.refresh_from_db()
    assert form.success_message == Form._meta.get_field("success_message").default


@pytest.mark.parametrize("name", ["csrfmiddlewaretoken", "id", "created_at"])
def test_builder_refuses_a_reserved_field_name(superuser, name):
    form = form_create("reserved", fields=[{"name": "name"}])

    response = superuser.post(f"/builder/forms/{form.slug}/fields/add/",
                              {"field-name": name, "field-type": "text"}, **HTMX)

    assert response.status_code == 200  # htmx swaps only a 2xx answer: the refusal is shown
    assert "is a reserved name" in response.content.decode()
    assert list(form.fields.values_list("name", flat=True)) == ["name"]


def test_builder_import_refuses_a_package_with_a_nan_default(superuser):
    text = '{"form": {"slug": "nan", "name": "NaN", "fields": [{"name": "n", "type": "number", "default": NaN}]}}'
    upload = SimpleUploadedFile("nan.json", text.encode(), content_type="application/json")

    response = superuser.post("/builder/import/", {"package": upload})

    assert response.status_code == 400
    assert "NaN is not a number JSON allows" in response.content.decode()
    assert not Form.objects.filter(slug="nan").exists()


def test_a_package_import_may_be_5_mb_and_a_larger_one_gets_a_message(staff):
    small = SimpleUploadedFile("big.json", b" " * (5 * 1024 * 1024 - 10) + b"{}", content_type="application/json")
    accepted = staff.post("/builder/import/", {"package": small})
    assert accepted.status_code == 400  # read, and refused as a package ({} is not one), not as too large
    assert "larger than 5 MB" not in accepted.content.decode()
    large = SimpleUploadedFile("huge.json", b" " * (5 * 1024 * 1024 + 10), content_type="application/json")
    refused = staff.post("/builder/import/", {"package": large})
    assert refused.status_code == 400 and "larger than 5 MB" in refused.content.decode()
    huge = SimpleUploadedFile("huge.json", b" " * (20 * 1024 * 1024), content_type="application/json")
    assert staff.post("/builder/import/", {"package": huge}).status_code == 413


def test_a_refused_field_without_javascript_shows_the_page_with_the_error(client, django_user_model):
    # Fails on the old code: the plain POST redirected to the form's page and the error was lost.
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    form = form_create("signup", fields=[{"name": "name"}])

    response = client.post(f"/builder/forms/{form.slug}/fields/add/",
                           {"field-name": "csrfmiddlewaretoken", "field-type": "text"})

    assert response.status_code == 200 and "reserved" in response.content.decode()
    assert list(form.fields.values_list("name", flat=True)) == ["name"]
