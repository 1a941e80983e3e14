"""The builder's webhook panel of a form (DESIGN §3.13): the address and the secret, Rotate and
Disable; and the secret kept out of the package export and the admin."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from eventtree.models import Form, Record
from tests.factories import form_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "the-partner-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def partner() -> Form:
    return form_create("partner", fields=[{"name": "name", "required": True}], webhook_secret=SECRET)


def hook(secret: str):
    return Client().post("/hooks/partner/", json.dumps({"name": "Ada"}), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {secret}")


def secret_of(form: Form) -> str:
    form.refresh_from_db()
    return form.webhook_secret


def test_the_form_page_shows_the_address_and_the_secret_to_who_may_change_the_form(staff, partner):
    page = staff.get("/builder/forms/partner/").content.decode()
    assert "http://testserver/hooks/partner/" in page
    assert f'<code id="webhook-secret">{SECRET}</code>' in page
    assert "Rotate secret" in page and "Disable" in page


def test_rotate_makes_a_new_secret_that_replaces_the_old_one_at_once(staff, partner):
    response = staff.post("/builder/forms/partner/webhook/rotate/", **HTMX)

    assert response.status_code == 200
    new = secret_of(partner)
    assert new != SECRET and len(new) >= 40
    panel = response.content.decode()
    assert f'<code id="webhook-secret">{new}</code>' in panel and SECRET not in panel
    assert "the old one no longer works" in panel and "<html" not in panel
    assert response["Cache-Control"] == "no-store"
    assert hook(SECRET).status_code == 401
    assert hook(new).status_code == 202


def test_disable_turns_the_webhook_off_and_rotate_turns_it_on_again(staff, partner):
    response = staff.post("/builder/forms/partner/webhook/disable/")  # without JavaScript

    assert response.status_code == 302 and response["Location"] == "/builder/forms/partner/"
    assert secret_of(partner) == ""
    page = staff.get("/builder/forms/partner/").content.decode()
    assert "Webhook disabled" in page  # the confirmation, once
    assert "disabled: every request is refused" in page and SECRET not in page
    assert "Enable with a new secret" in page and ">Disable<" not in page
    assert hook(SECRET).status_code == 401 and hook("").status_code == 401
    assert Record.objects.count() == 0

    staff.post("/builder/forms/partner/webhook/rotate/")
    assert hook(secret_of(partner)).status_code == 202


def test_staff_without_change_form_see_no_secret_and_get_403(client, partner):
    client.force_login(staff_create("viewer", "eventtree.view_form"))

    page = client.get("/builder/forms/partner/").content.decode()
    assert "http://testserver/hooks/partner/" in page and "enabled (shown to staff who may change the form)" in page
    assert SECRET not in page and "Rotate secret" not in page
    assert client.post("/builder/forms/partner/webhook/rotate/").status_code == 403
    assert client.post("/builder/forms/partner/webhook/disable/", **HTMX).status_code == 403
    assert secret_of(partner) == SECRET


def test_the_panel_needs_a_staff_login_and_a_post(client, staff, partner):
    assert Client().post("/builder/forms/partner/webhook/rotate/").status_code == 302  # to the login
    assert staff.get("/builder/forms/partner/webhook/rotate/").status_code == 405
    assert secret_of(partner) == SECRET
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(staff_create("builder", "eventtree.change_form"))
    assert csrf_checked.post("/builder/forms/partner/webhook/disable/").status_code == 403
    assert secret_of(partner) == SECRET


def test_the_builders_export_never_holds_the_secret(staff, partner):
    response = staff.get("/builder/forms/partner/export/")
    assert response.status_code == 200
    assert SECRET not in response.content.decode() and "webhook" not in response.content.decode()


def test_the_admin_never_shows_the_secret(admin_client, partner):
    for url in ("/admin/eventtree/form/", f"/admin/eventtree/form/{partner.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200 and SECRET not in response.content.decode()
