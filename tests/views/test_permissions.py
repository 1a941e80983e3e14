"""Who may do what in the builder: Django's model permissions, as in the admin (eventtree/permissions.py)."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, reverse

from eventtree import builder_urls
from eventtree.models import Block, EventTree, Field, Form, Import, Node, Record, Run
from eventtree.services.records import record_submit
from tests.factories import REFERENCE_FIELDS, form_create, reference_tree_nodes, tree_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def objects(django_capture_on_commit_callbacks):
    """A form with a tree, a record and a pending block: every id a builder URL can take."""
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    tree = tree_create(form, reference_tree_nodes())
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    return {"slug": form.slug, "tree_id": tree.pk, "node_id": tree.nodes.first().pk,
            "field_id": form.fields.first().pk, "record_id": record.pk, "block_id": Block.objects.get().pk,
            "number": tree.published.number, "run_id": Run.objects.get().pk,
            "import_id": Import.objects.create(form=form, file_name="people.csv", chunk_size=100).pk}


def every_builder_url(objects: dict) -> list[tuple[str, str]]:
    """(name, url) of every pattern of the builder's URL conf, filled with real ids."""
    urls = []
    for pattern in builder_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
        urls.append((pattern.name, reverse(f"builder:{pattern.name}", kwargs={name: objects[name] for name in names})))
    return urls


def request_and_roll_back(client: Client, method: str, url: str, data: dict | None = None, **extra):
    """One request whose changes are undone, so that every URL meets the same objects."""
    with transaction.atomic():
        response = getattr(client, method)(url, data or {}, **extra)
        transaction.set_rollback(True)
    return response


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Form, Field, EventTree, Node, Record, Block))


def test_staff_without_permissions_gets_403_on_every_builder_url(client, objects):
    client.force_login(staff_create("nobody"))
    before = counts()
    urls = every_builder_url(objects)
    assert len(urls) == len(builder_urls.urlpatterns) >= 20
    for name, url in urls:
        for method in ("get", "post"):
            for extra in ({}, HTMX):
                response = client.get(url, **extra) if method == "get" else client.post(url, **extra)
                assert response.status_code == 403, (method, name, url, response.status_code)
    assert counts() == before


def test_view_record_only_sees_records_and_changes_nothing(client, objects):
    client.force_login(staff_create("reader", "eventtree.view_record"))
    record_id, block_id = objects["record_id"], objects["block_id"]

    listing = client.get("/builder/forms/membership/records/")
    assert listing.status_code == 200 and f"/builder/records/{record_id}/" in listing.content.decode()
    page = client.get(f"/builder/records/{record_id}/")
    body = page.content.decode()
    assert page.status_code == 200 and "Ada" in body
    assert f"/builder/records/{record_id}/edit/" not in body and ">Cancel</button>" not in body
    # No link leads to a page they may not see (the form's page).
    assert 'href="/builder/forms/membership/"' not in body + listing.content.decode()

    forms = client.get("/builder/").content.decode()  # the way to each form's records
    assert 'href="/builder/forms/membership/records/"' in forms
    assert 'href="/builder/forms/membership/"' not in forms and "Create form" not in forms
    assert client.post("/builder/", {"name": "New", "slug": "new"}).status_code == 403

    assert client.post("/builder/forms/membership/imports/").status_code == 403  # an upload adds records
    allowed = {"records", "record", "forms", "imports", "import"}
    for name, url in every_builder_url(objects):
        if name in allowed:
            continue
        assert client.get(url).status_code == 403, name
        assert request_and_roll_back(client, "post", url).status_code == 403, name
    assert client.post(f"/builder/records/{record_id}/edit/", {"name": "Mallory"}).status_code == 403
    assert client.post(f"/builder/blocks/{block_id}/cancel/").status_code == 403
    assert Record.objects.get().values["name"] == "Ada" and Block.objects.get().state == "pending"


def test_superuser_reaches_every_builder_url(client, django_user_model, objects):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    for name, url in every_builder_url(objects):
        for method in ("get", "post"):
            response = request_and_roll_back(client, method, url)
            assert response.status_code in (200, 302, 400, 405), (method, name, response.status_code)


def test_each_action_needs_its_own_permission(client, objects):
    """The permission a view needs (or one of those it takes), and only that, lets the request through."""
    node_id, field_id, tree_id = objects["node_id"], objects["field_id"], objects["tree_id"]
    cases = [
        ("get", "/builder/", ("eventtree.view_form", "eventtree.view_record")),  # the way to records too
        ("post", "/builder/", "eventtree.add_form"),
        ("get", "/builder/forms/membership/", "eventtree.view_form"),
        ("post", "/builder/forms/membership/", "eventtree.change_form"),
        ("get", "/builder/forms/membership/export/", "eventtree.view_form"),
        ("post", "/builder/import/", "eventtree.add_form"),
        ("post", "/builder/forms/membership/fields/add/", "eventtree.change_form"),
        ("post", f"/builder/forms/membership/fields/{field_id}/delete/", "eventtree.change_form"),
        ("post", "/builder/forms/membership/trees/add/", "eventtree.add_eventtree"),
        ("get", f"/builder/trees/{tree_id}/", "eventtree.view_eventtree"),
        ("post", f"/builder/trees/{tree_id}/settings/", "eventtree.change_eventtree"),
        ("post", f"/builder/trees/{tree_id}/delete/", "eventtree.delete_eventtree"),
        ("post", f"/builder/trees/{tree_id}/publish/", "eventtree.publish_eventtree"),
        ("post", f"/builder/trees/{tree_id}/discard/", "eventtree.change_eventtree"),
        ("get", f"/builder/trees/{tree_id}/versions/1/", "eventtree.view_eventtree"),
        ("post", f"/builder/trees/{tree_id}/versions/1/publish/", "eventtree.publish_eventtree"),
        ("get", f"/builder/trees/{tree_id}/nodes/add/", "eventtree.change_eventtree"),
        ("post", f"/builder/nodes/{node_id}/", "eventtree.change_eventtree"),
        ("post", f"/builder/nodes/{node_id}/delete/", "eventtree.change_eventtree"),
        ("get", f"/builder/nodes/{node_id}/delete/", "eventtree.change_eventtree"),
        ("post", f"/builder/nodes/{node_id}/duplicate/", "eventtree.change_eventtree"),
        ("post", f"/builder/nodes/{node_id}/preview/", "eventtree.change_eventtree"),
        ("post", f"/builder/records/{objects['record_id']}/edit/", "eventtree.change_record"),
        ("post", f"/builder/blocks/{objects['block_id']}/cancel/", ("eventtree.change_block", "eventtree.change_run")),
        ("get", "/builder/runs/", "eventtree.view_run"),
        ("get", f"/builder/runs/{objects['run_id']}/", "eventtree.view_run"),
        ("post", f"/builder/runs/{objects['run_id']}/replay/", "eventtree.change_run"),
        ("get", "/builder/forms/membership/imports/", "eventtree.view_record"),
        ("post", "/builder/forms/membership/imports/", "eventtree.add_record"),
        ("get", f"/builder/imports/{objects['import_id']}/", "eventtree.view_record"),
    ]
    for number, (method, url, perms) in enumerate(cases):
        perms = (perms,) if isinstance(perms, str) else perms
        others = [p for p in ("eventtree.view_form", "eventtree.view_eventtree", "eventtree.view_record",
                              "eventtree.add_form", "eventtree.change_form", "eventtree.change_eventtree")
                  if p not in perms]
        without = Client()
        without.force_login(staff_create(f"without{number}", *others))
        assert request_and_roll_back(without, method, url).status_code == 403, (url, perms)
        for index, perm in enumerate(perms):
            holder = Client()
            holder.force_login(staff_create(f"holder{number}-{index}", perm))
            assert request_and_roll_back(holder, method, url).status_code != 403, (url, perm)


def test_a_form_with_records_is_deleted_only_by_who_may_delete_records_too(objects):
    without = Client()
    without.force_login(staff_create("form-deleter", "eventtree.delete_form"))
    assert request_and_roll_back(without, "post", "/builder/forms/membership/delete/").status_code == 403
    holder = Client()
    holder.force_login(staff_create("deleter", "eventtree.delete_form", "eventtree.delete_record"))
    assert request_and_roll_back(holder, "post", "/builder/forms/membership/delete/").status_code == 302


def test_importing_trees_needs_the_permission_to_add_trees(objects):
    from django.core.files.uploadedfile import SimpleUploadedFile

    exporter = Client()
    exporter.force_login(staff_create("exporter", "eventtree.view_form"))
    package = exporter.get("/builder/forms/membership/export/").content
    for number, (perms, status) in enumerate([(("eventtree.add_form",), 403),
                                              (("eventtree.add_form", "eventtree.add_eventtree"), 302)]):
        importer = Client()
        importer.force_login(staff_create(f"importer{number}", *perms))
        upload = SimpleUploadedFile("membership.json", package, content_type="application/json")
        response = request_and_roll_back(importer, "post", "/builder/import/",
                                         {"package": upload, "slug": "membership-copy"})
        assert response.status_code == status, perms


def test_import_with_replace_needs_change_form_too(client, objects):
    from django.core.files.uploadedfile import SimpleUploadedFile

    root = Client()
    root.force_login(staff_create("exporter", "eventtree.view_form"))
    package = root.get("/builder/forms/membership/export/").content
    client.force_login(staff_create("adder", "eventtree.add_form"))
    upload = SimpleUploadedFile("membership.json", package, content_type="application/json")
    assert client.post("/builder/import/", {"package": upload, "replace": "on"}).status_code == 403


def test_anonymous_and_non_staff_go_to_the_login_page(client, django_user_model, objects):
    for name, url in every_builder_url(objects):
        assert client.get(url)["Location"].startswith("/admin/login/"), name
    client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    assert client.get("/builder/")["Location"].startswith("/admin/login/")


def test_menus_show_only_what_the_user_may_do(client, objects):
    tree_id, record_id = objects["tree_id"], objects["record_id"]
    client.force_login(staff_create("viewer", "eventtree.view_form", "eventtree.view_eventtree"))

    forms = client.get("/builder/").content.decode()
    assert "Create form" not in forms and 'action="/builder/import/"' not in forms
    form = client.get("/builder/forms/membership/").content.decode()
    assert "Export JSON" in form
    for control in ("Delete…", "Add tree", "Add field", "Save settings", "Save field", "/fields/add/",
                    "/builder/forms/membership/records/"):
        assert control not in form, control
    tree = client.get(f"/builder/trees/{tree_id}/").content.decode()
    assert "Slow part" in tree
    for control in ("/nodes/add/", "/move/", "/delete/", "Save settings", "drag-handle", ">Edit<"):
        assert control not in tree, control

    editor = Client()
    editor.force_login(staff_create("editor", "eventtree.view_form", "eventtree.view_eventtree",
                                    "eventtree.change_eventtree", "eventtree.change_form",
                                    "eventtree.view_record", "eventtree.change_record", "eventtree.change_block"))
    tree = editor.get(f"/builder/trees/{tree_id}/").content.decode()
    assert "/nodes/add/" in tree and "drag-handle" in tree and "Delete this tree" not in tree
    form = editor.get("/builder/forms/membership/").content.decode()
    assert "Add field" in form and "Delete…" not in form and "Add tree" not in form
    record = editor.get(f"/builder/records/{record_id}/").content.decode()
    assert f"/builder/records/{record_id}/edit/" in record and ">Cancel</button>" in record
