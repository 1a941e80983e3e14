"""Failure alerts (engine/alerts.py): the owners of a form hear of its failed runs, at most one
email a tree a window, the failures in between gathered into one digest at the window's end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone
from django_q.models import Schedule

from eventtree.engine.sweeper import sweep
from eventtree.models import AlertWindow, Block, BlockState, Form, Run, RunStatus
from eventtree.services.records import record_submit
from eventtree.tasks import alert_digest
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing(settings):
    """A form whose Background fails at every attempt (one attempt), owned by an address and a
    group with one user."""
    settings.EVENTTREE = {**settings.EVENTTREE, "ALERT_MINUTES": 15, "BASE_URL": "https://forms.example.com/"}
    owners = Group.objects.create(name="owners")
    User.objects.create_user("olga", email="olga@example.com").groups.add(owners)
    User.objects.create_user("gone", email="gone@example.com", is_active=False).groups.add(owners)
    form = form_create("partner", fields=[{"name": "name"}], name="Partner <b>sync</b>",
                       alert_emails=["ops@example.com"], alert_group=owners)
    tree_create(form, [{"kind": "background", "label": "Call partner", "children": [
        action("fail", message="partner said 500")]}], max_attempts=1, name="On <i>submit</i>")
    return form


def submit_and_fail(form, capture, drain_blocks, name: str = "Ada") -> Run:
    with capture(execute=True):
        record, _ = record_submit(form=form, values={"name": name})
    drain_blocks()
    run = Run.objects.get(record=record)
    assert run.status == RunStatus.FAILED
    return run


def window_closed_early(form) -> None:
    """As if the window's minutes had passed."""
    AlertWindow.objects.filter(tree__form=form).update(closes_at=timezone.now() - timedelta(seconds=1))


def test_a_failed_run_is_mailed_at_once_to_the_forms_addresses_and_group_with_a_link_to_its_run(
    failing, django_capture_on_commit_callbacks, drain_blocks
):
    run = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ops@example.com", "olga@example.com"]
    assert email.subject == f"Run {run.pk} of On <i>submit</i> (Partner <b>sync</b>) failed"
    assert f"https://forms.example.com/builder/runs/{run.pk}/" in email.body
    assert "“Call partner” failed after 1 attempt: partner said 500" in email.body
    # Plain text only: the names the builder typed are text, never markup.
    assert "Partner <b>sync</b>" in email.body and not email.alternatives


def test_failures_within_the_window_come_in_one_digest_when_it_closes(
    failing, django_capture_on_commit_callbacks, drain_blocks
):
    first = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "one")
    second = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "two")
    third = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "three")
    assert len(mail.outbox) == 1 and str(first.pk) in mail.outbox[0].subject

    # The digest is woken at the window's end; a wake-up before it sends nothing.
    window = AlertWindow.objects.get()
    schedule = Schedule.objects.get(func="eventtree.tasks.alert_digest")
    assert schedule.next_run == window.closes_at and schedule.args == repr(window.tree_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_digest(window.tree_id) == 0
    assert len(mail.outbox) == 1

    window_closed_early(failing)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_digest(window.tree_id) == 2
    assert len(mail.outbox) == 2
    digest = mail.outbox[1]
    assert digest.subject.startswith("2 runs of On <i>submit</i>")
    for run in (second, third):
        assert f"/builder/runs/{run.pk}/" in digest.body
    assert f"/builder/runs/{first.pk}/" not in digest.body

    # The digest opened the next window: a failure now waits for that window's end.
    submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "four")
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_digest(window.tree_id) == 0  # a repeated wake-up of the last digest


def test_after_a_quiet_window_the_next_failure_is_mailed_at_once(
    failing, django_capture_on_commit_callbacks, drain_blocks
):
    submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "one")
    window_closed_early(failing)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_digest(AlertWindow.objects.get().tree_id) == 0  # nothing gathered: no email
    later = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks, "two")
    assert len(mail.outbox) == 2 and str(later.pk) in mail.outbox[1].subject


def test_a_block_still_to_be_retried_and_a_run_that_succeeds_send_nothing(
    django_capture_on_commit_callbacks, drain_blocks
):
    form = form_create("flaky", fields=[{"name": "name"}, {"name": "b", "internal": True}],
                       alert_emails=["ops@example.com"])
    tree_create(form, [{"kind": "background", "children": [action("fail", message="no")]}], max_attempts=3)
    tree_create(form, [{"kind": "background", "children": [set_field("b", "B")]}], name="Fine")
    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=form, values={"name": "x"})

    drain_blocks(include_future=False)  # the failing block's first attempt; its retry waits
    assert Block.objects.filter(state=BlockState.PENDING).count() == 1
    assert mail.outbox == []
    drain_blocks()
    assert len(mail.outbox) == 1


def test_a_form_without_owners_sends_no_alert(django_capture_on_commit_callbacks, drain_blocks):
    form = form_create("quiet", fields=[{"name": "name"}])
    tree_create(form, [{"kind": "background", "children": [action("fail", message="no")]}], max_attempts=1)
    submit_and_fail(form, django_capture_on_commit_callbacks, drain_blocks)
    assert mail.outbox == [] and not AlertWindow.objects.exists()


def test_a_block_whose_worker_never_came_back_is_alerted_by_the_sweeper(
    failing, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=failing, values={"name": "x"})
    Block.objects.update(state=BlockState.RUNNING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().failed == 1

    assert Run.objects.get().status == RunStatus.FAILED
    assert len(mail.outbox) == 1 and "stopped before it finished" in mail.outbox[0].body


def test_an_alert_that_cannot_be_written_leaves_the_failure_it_reports_alone(
    failing, django_capture_on_commit_callbacks, drain_blocks
):
    Form.objects.filter(pk=failing.pk).update(alert_emails=5)  # as bad data edited in the admin could be

    run = submit_and_fail(failing, django_capture_on_commit_callbacks, drain_blocks)

    assert Block.objects.get(run=run).state == BlockState.FAILED
    assert mail.outbox == [] and not AlertWindow.objects.exists()
