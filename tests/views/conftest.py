"""Fixtures of the builder's view tests: a builder holding every builder permission, and the
reference form with its tree published."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import REFERENCE_FIELDS, form_create, reference_tree_nodes, tree_create
from tests.views.staff import BUILDER_PERMISSIONS, staff_create


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(staff_create("staff", *BUILDER_PERMISSIONS))
    return client


@pytest.fixture
def membership():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    return form, tree_create(form, reference_tree_nodes())
