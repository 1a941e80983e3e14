"""http_request in a Background block run by a real `qcluster` process (DESIGN §4): the call is
made once per block and node, even when the block rolls back after it and is retried, and the
visitor's page shows nothing of the answer."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from eventtree.models import Block, Node, OutboxMessage, Record
from tests.factories import action, form_create, set_field, tree_create
from tests.partner import CRM_FIELDS as FIELDS, partner  # noqa: F401
from tests.workers import QCluster, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "integration-crm-token-0123456789"


@pytest.fixture
def cluster(transactional_db, tmp_path, settings):
    # The partner listens on loopback: allowed, in the workers and here, as EVENTTREE_HTTP_ALLOW_PRIVATE=1 does.
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": True, "HTTP_SECRETS": {"CRM_TOKEN": SECRET}}
    cluster = QCluster(workdir=tmp_path, env={"EVENTTREE_HTTP_ALLOW_PRIVATE": "1",
                                              "EVENTTREE_HTTP_SECRETS": json.dumps({"CRM_TOKEN": SECRET})}).start()
    yield cluster
    cluster.stop()


def http(url: str) -> dict:
    return action("http_request", method="POST", url=url, body='{"name": "{{ record.name }}"}',
                  headers={"Authorization": "Bearer {{ secrets.CRM_TOKEN }}"}, store={"customer_id": "data.id"})


def test_a_worker_calls_once_even_when_the_block_is_retried_and_the_visitor_sees_no_answer(partner, cluster):
    once = form_create("once", fields=FIELDS)
    once_tree = tree_create(once, [{"kind": "background", "label": "Tell the CRM", "children": [
        http(partner.url("/ok")), action("fail", message="after the call")]}], max_attempts=2)
    stored = form_create("stored", fields=FIELDS)
    tree_create(stored, [{"kind": "background", "label": "Tell the CRM", "children": [
        http(partner.url("/ok")), set_field("status", "customer {{ record.customer_id }}")]}])
    client = Client()

    once_url = client.post("/f/once/", {"name": "Ada"})["Location"]
    stored_url = client.post("/f/stored/", {"name": "Grace"})["Location"]

    finals = [wait_until(lambda url=url: (s := client.get(url + "status.json").json())["finished"] and s,
                         timeout=90, describe=lambda: cluster.output()[-3000:]) for url in (once_url, stored_url)]

    assert [(final["status"], final["blocks"][0]["attempts"]) for final in finals] == [("failed", 2), ("done", 1)]
    block = Block.objects.get(run__tree=once_tree)
    node = Node.objects.get(tree=once_tree, action="http_request")
    once_key = f"r{block.run_id}:b{block.pk}:n{node.pk}:http"
    counts = partner.counts()
    assert counts[once_key] == 1 and sorted(counts.values()) == [1, 1]
    assert all(call.headers["Authorization"] == f"Bearer {SECRET}" for call in partner.calls())
    assert Record.objects.get(form=stored).values["status"] == "customer 42"
    assert Record.objects.get(form=once).values.get("customer_id") is None
    assert sorted(OutboxMessage.objects.values_list("state", flat=True)) == ["sent", "sent"]
    for url in (once_url, stored_url):
        for text in (client.get(url).content.decode(), client.get(url + "status.json").content.decode()):
            for hidden in ("RESPONSE-ONLY-TEXT", SECRET, "HTTP 200", "vip", "after the call"):
                assert hidden not in text
