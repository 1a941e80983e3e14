"""A form's alert addresses and whether it is listed travel in its package (the `form` object)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from eventtree.models import Form
from eventtree.services.packages import (
    PackageInvalid,
    form_package_export,
    form_package_import,
    form_package_validate,
)
from tests.factories import form_create

pytestmark = pytest.mark.django_db


def package(**form: Any) -> dict[str, Any]:
    return {"form": {"slug": "partner", "name": "Partner", "fields": [{"name": "name", "type": "text"}], **form},
            "trees": []}


def test_the_alert_addresses_and_an_unlisted_form_are_exported_and_imported_back():
    group = Group.objects.create(name="owners")
    form = form_create("partner", fields=[{"name": "name"}], alert_emails=["ops@example.com", "lead@example.com"],
                       listed=False, alert_group=group)

    exported = form_package_export(form=form)

    assert exported["form"]["alert_emails"] == ["ops@example.com", "lead@example.com"]
    assert exported["form"]["listed"] is False
    assert "alert_group" not in exported["form"]  # groups are this site's own
    copy = form_package_import(data=exported, slug="partner-copy", name="Copy")
    assert (copy.alert_emails, copy.listed, copy.alert_group) == (["ops@example.com", "lead@example.com"], False, None)


def test_a_listed_form_without_alert_addresses_writes_neither():
    exported = form_package_export(form=form_create("plain", fields=[{"name": "name"}]))

    assert "alert_emails" not in exported["form"] and "listed" not in exported["form"]
    imported = form_package_import(data=package(), slug="plain-copy")
    assert (imported.alert_emails, imported.listed) == ([], True)


@pytest.mark.parametrize(("form", "problems"), [
    ({"alert_emails": ["ops@example.com", "not an address", "<b>x</b>@"]},
     ["form.alert_emails: 'not an address' is not an email address.",
      "form.alert_emails: '<b>x</b>@' is not an email address."]),
    ({"alert_emails": "ops@example.com"}, ["form.alert_emails: expected a list of email addresses"]),
    ({"alert_emails": [1]}, ["form.alert_emails: expected a list of email addresses"]),
    ({"alert_emails": [f"a{i}@example.com" for i in range(21)]}, ["form.alert_emails: At most 20 addresses."]),
    ({"listed": "no"}, ["form.listed: expected true or false"]),
])
def test_bad_alert_addresses_and_listed_values_are_refused_by_their_path(form, problems):
    assert form_package_validate(package(**form)) == problems
    with pytest.raises(PackageInvalid):
        form_package_import(data=package(**form))
    assert not Form.objects.exists()
