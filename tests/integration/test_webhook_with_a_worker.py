"""Webhooks in (DESIGN §3.13) with a real `qcluster` process: a record sent by another system runs
its tree's Background block in a worker, followed through the status_url of the answer."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from eventtree.models import Record
from tests.factories import REFERENCE_FIELDS, form_create, reference_tree_nodes, tree_create
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "integration-webhook-secret-0123456789abcdefgh"


def test_a_webhook_record_finishes_in_a_real_worker_and_a_retry_changes_nothing(qcluster):
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application", webhook_secret=SECRET)
    tree_create(form, reference_tree_nodes())
    client = Client()

    def send():
        return client.post("/hooks/membership/", json.dumps({"name": "Ada", "email": "ada@example.com"}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {SECRET}",
                           HTTP_IDEMPOTENCY_KEY="order-1042")

    response = send()
    assert response.status_code == 202
    status_url = response.json()["status_url"]

    final = wait_until(lambda: (s := client.get(status_url).json())["finished"] and s, timeout=60,
                       describe=lambda: qcluster.output()[-3000:])
    assert final["status"] == "done"
    record = Record.objects.get()
    assert (record.values["field_a"], record.values["field_b"], record.values["field_d"]) == ("A:Ada", "B", "D")
    mails = wait_until(qcluster.sent_mail, timeout=20)
    assert len(mails) == 1 and "To: ada@example.com" in mails[0]

    retry = send()
    assert (retry.status_code, retry.json()) == (202, response.json())
    assert Record.objects.count() == 1
