"""Failure alerts with a real `qcluster`: the first failure is mailed at once, the next ones in
the window come together in one digest woken by django-q2's scheduler when the window closes."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from eventtree.models import Run, RunStatus
from tests.factories import action, form_create, tree_create
from tests.workers import QCluster, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WINDOW_MINUTES = "0.25"  # 15 s: long enough for the three failures to fall in one window


@pytest.fixture
def cluster(transactional_db, tmp_path):
    cluster = QCluster(workdir=tmp_path, env={"EVENTTREE_ALERT_MINUTES": WINDOW_MINUTES,
                                               "EVENTTREE_BASE_URL": "https://forms.example.com"}).start()
    yield cluster
    cluster.stop()


def subjects(cluster: QCluster) -> list[str]:
    return [re.search(r"^Subject: (.*)$", mail, re.MULTILINE).group(1) for mail in cluster.sent_mail()]


def test_three_failures_in_a_window_make_one_email_at_once_and_one_digest(cluster):
    form = form_create("partner", fields=[{"name": "name"}], name="Partner", alert_emails=["ops@example.com"])
    tree_create(form, [{"kind": "background", "label": "Call partner", "children": [
        action("fail", message="partner said 500")]}], max_attempts=1)
    client = Client()

    for name in ("one", "two", "three"):
        assert client.post("/f/partner/", {"name": name}).status_code == 302
    wait_until(lambda: Run.objects.filter(status=RunStatus.FAILED).count() == 3, timeout=60,
               describe=lambda: cluster.output()[-3000:])
    runs = {run.pk for run in Run.objects.all()}

    mails = wait_until(lambda: len(cluster.sent_mail()) == 2 and cluster.sent_mail(), timeout=90,
                       describe=lambda: f"{subjects(cluster)}\n{cluster.output()[-3000:]}")

    # Two workers: whichever run failed first is mailed at once, the two others in the digest.
    at_once = int(re.fullmatch(r"Run (\d+) of On submit \(Partner\) failed", subjects(cluster)[0]).group(1))
    assert at_once in runs
    assert subjects(cluster)[1] == "2 runs of On submit (Partner) failed, since the last alert"
    assert all("To: ops@example.com" in mail for mail in mails)
    assert f"https://forms.example.com/builder/runs/{at_once}/" in mails[0]
    for run in runs - {at_once}:
        assert f"https://forms.example.com/builder/runs/{run}/" in mails[1]
