"""The reference tree of DESIGN §3.2 with a real `qcluster` process, not django-q2's sync mode."""

from __future__ import annotations

import pytest
from django.test import Client

from eventtree.models import Block, Record, Run
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, set_field, tree_create
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def status(client: Client, url: str) -> dict:
    return client.get(url + "status.json").json()


def test_membership_submit_finishes_in_a_real_worker(qcluster):
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    tree_create(form, reference_tree_nodes())
    client = Client()

    response = client.post("/f/membership/", {"name": "Ada", "email": "ada@example.com"})

    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("/f/membership/submitted/")
    record = Record.objects.get()
    assert record.values["field_a"] == "A:Ada" and record.values["field_d"] == "D"

    final = wait_until(
        lambda: (s := status(client, url))["finished"] and s,
        timeout=60,
        describe=lambda: f"status {status(client, url)}\n{qcluster.output()[-3000:]}",
    )

    assert final["status"] == "done"
    assert [(b["label"], b["state"], b["attempts"]) for b in final["blocks"]] == [("Slow part", "done", 1)]
    record.refresh_from_db()
    assert (record.values["field_b"], record.values["field_c"]) == ("B", "C")
    mails = wait_until(qcluster.sent_mail, timeout=20)
    assert len(mails) == 1 and "To: ada@example.com" in mails[0]
    page = client.get(url)
    assert "Everything has been processed" in page.content.decode()


def test_async_fail_is_retried_by_the_worker_then_shown_neutrally(qcluster):
    form = form_create("flaky", fields=[{"name": "name"}, {"name": "b", "internal": True}])
    tree_create(form, [{"kind": "background", "label": "Call partner", "children": [
        set_field("b", "rolled back"), action("fail", message="partner API said 500: secret detail")]}],
        max_attempts=2)
    client = Client()

    url = client.post("/f/flaky/", {"name": "x"})["Location"]

    final = wait_until(lambda: (s := status(client, url))["finished"] and s, timeout=90,
                       describe=lambda: qcluster.output()[-3000:])
    assert final["status"] == "failed"
    assert final["blocks"][0]["attempts"] == 2
    assert "b" not in Record.objects.get().values
    page = client.get(url).content.decode()
    assert "could not be completed" in page and "secret detail" not in page
    assert "secret detail" in Block.objects.get().last_error
    assert Run.objects.get().status == "failed"
