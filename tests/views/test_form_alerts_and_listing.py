"""The builder's side of failure alerts and unlisted forms: the form page's settings, the failed
runs on the forms list, and the public home page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from eventtree.models import Form, Record, Run, RunStatus
from tests.factories import form_create, tree_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def settings_post(client: Client, form: Form, **values: str):
    data = {"settings-name": form.name, "settings-slug": form.slug,
            "settings-success_message": form.success_message, "settings-listed": "on"}
    data.update({f"settings-{name}": value for name, value in values.items()})
    return client.post(f"/builder/forms/{form.slug}/", data, **HTMX)


def test_the_form_page_sets_who_hears_of_failed_runs_and_whether_the_form_is_listed(staff):
    form = form_create("partner", fields=[{"name": "name"}])
    owners = Group.objects.create(name="Partner team")

    response = settings_post(staff, form, alert_emails="ops@example.com,\n lead@example.com",
                             alert_group=str(owners.pk), listed="")

    assert response.status_code == 200 and "Saved." in response.content.decode()
    form.refresh_from_db()
    assert form.alert_emails == ["ops@example.com", "lead@example.com"]
    assert form.alert_group == owners and form.listed is False
    page = staff.get(f"/builder/forms/{form.slug}/").content.decode()
    assert "ops@example.com, lead@example.com" in page and "Partner team" in page


def test_an_alert_address_that_is_not_one_is_refused_with_a_message_and_nothing_is_saved(staff):
    form = form_create("partner", fields=[{"name": "name"}], alert_emails=["ops@example.com"])

    response = settings_post(staff, form, alert_emails="ops@example.com, <b>ops</b>, lead@")

    assert response.status_code == 200  # htmx swaps only a 2xx answer: the refusal is shown
    page = response.content.decode()
    assert "&#x27;&lt;b&gt;ops&lt;/b&gt;&#x27; is not an email address." in page
    assert "&#x27;lead@&#x27; is not an email address." in page and "Saved." not in page
    form.refresh_from_db()
    assert form.alert_emails == ["ops@example.com"]


def test_staff_who_may_only_view_forms_see_the_alert_settings_as_text(client):
    form = form_create("partner", fields=[{"name": "name"}], alert_emails=["ops@example.com"], listed=False)
    client.force_login(staff_create("viewer", "eventtree.view_form"))

    page = client.get(f"/builder/forms/{form.slug}/").content.decode()

    assert "<dt>Alert addresses</dt><dd>ops@example.com</dd>" in page
    assert "<dt>Listed on the home page</dt><dd>no</dd>" in page
    assert settings_post(client, form, alert_emails="me@example.com").status_code == 403
    form.refresh_from_db()
    assert form.alert_emails == ["ops@example.com"]


def failed_runs(form: Form, count: int) -> None:
    tree = tree_create(form, [], name=f"Tree of {form.slug}")
    record = Record.objects.create(form=form, values={})
    for status in [RunStatus.FAILED] * count + [RunStatus.DONE]:
        Run.objects.create(tree=tree, record=record, event="submitted", status=status)


def forms_list_queries(client: Client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/builder/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_the_forms_list_counts_each_forms_failed_runs_linking_to_them_in_a_constant_number_of_queries(staff):
    failed_runs(form_create("first", fields=[{"name": "name"}]), 2)
    _, one_form = forms_list_queries(staff)
    for slug in ("second", "third", "fourth"):
        failed_runs(form_create(slug, fields=[{"name": "name"}]), 1)
    form_create("quiet", fields=[{"name": "name"}])

    page, five_forms = forms_list_queries(staff)

    assert five_forms == one_form
    assert '<a class="chip chip-warn" href="/builder/runs/?form=first&amp;state=failed">2 failed</a>' in page
    assert '<a class="chip chip-warn" href="/builder/runs/?form=second&amp;state=failed">1 failed</a>' in page
    assert page.count(" failed</a>") == 4


def test_staff_who_may_not_see_runs_get_the_count_without_the_link(client):
    failed_runs(form_create("first", fields=[{"name": "name"}]), 3)
    client.force_login(staff_create("viewer", "eventtree.view_form"))

    page = client.get("/builder/").content.decode()

    assert '<span class="chip chip-warn">3 failed</span>' in page and "/builder/runs/" not in page


# The public pages ------------------------------------------------------------------------------

def test_an_unlisted_form_is_left_off_the_home_page_and_still_works_at_its_address(client):
    form_create("listed", fields=[{"name": "name"}], name="Listed form")
    form_create("hidden", fields=[{"name": "name"}], name="Hidden form", listed=False)

    home = client.get("/").content.decode()

    assert "Listed form" in home and "Hidden form" not in home and "/f/hidden/" not in home
    assert client.get("/f/hidden/").status_code == 200
    assert client.post("/f/hidden/", {"name": "Ada"}).status_code == 302
    assert Record.objects.get().form.slug == "hidden"


def test_the_home_page_leads_staff_to_the_builder_and_visitors_not(client):
    assert "/builder/" not in client.get("/").content.decode()
    client.force_login(staff_create("builder"))
    assert 'href="/builder/">build and change forms in the builder</a>' in client.get("/").content.decode()


def test_every_page_names_the_favicon_and_it_is_served(client):
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/eventtree/favicon.svg" type="image/svg+xml">' in page

    icon = client.get("/static/eventtree/favicon.svg")

    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
