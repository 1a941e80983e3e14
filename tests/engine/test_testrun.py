"""Test runs (DESIGN §3.9): a tree's draft against a sample record, with nothing kept."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.db import transaction
from django.utils import timezone

from eventtree.engine.testrun import form_test_run, tree_test_run
from eventtree.models import EventTree, Node, Record
from tests.factories import (
    REFERENCE_FIELDS,
    action,
    form_create,
    reference_tree_nodes,
    set_field,
    tree_create,
)

pytestmark = pytest.mark.django_db

ADA = {"name": "Ada", "email": "ada@example.com"}


def everything() -> dict[str, Any]:
    """Every row of every table of the project and of django-q2, and the mail sent."""
    models = [*apps.get_app_config("eventtree").get_models(), *apps.get_app_config("django_q").get_models()]
    rows = {model._meta.db_table: list(model.objects.order_by("pk").values()) for model in models}
    return {"rows": rows, "mail": [(m.to, m.subject, m.body) for m in mail.outbox]}


def reference_form_and_tree() -> tuple[Any, EventTree]:
    form = form_create("membership", fields=REFERENCE_FIELDS)
    return form, tree_create(form, reference_tree_nodes())


def summary(trace) -> list[tuple[str, str, str, str]]:
    return [(step["path"], step["label"], step["phase"], step["status"]) for step in trace.steps]


def test_the_reference_tree_runs_every_node_in_the_order_a_submit_and_its_worker_would():
    _, tree = reference_form_and_tree()

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "done"
    assert summary(trace) == [
        ("nodes[0]", "Set field", "sync", "ok"),
        ("nodes[1]", "Slow part", "sync", "deferred"),
        ("nodes[2]", "Set field", "sync", "ok"),
        ("nodes[1].children[0]", "Set field", "background", "ok"),
        ("nodes[1].children[1]", "Set field", "background", "ok"),
        ("nodes[1].children[2]", "Send email", "background", "ok"),
    ]
    outputs = [step["output"] for step in trace.steps]
    assert outputs[0] == "field_a = 'A:Ada'"
    assert outputs[1] == "would run in a worker right after the submit"
    assert outputs[3:5] == ["field_b = 'B'", "field_c = 'C'"]
    assert outputs[5] == "would send an email to ada@example.com"
    assert trace.steps[5]["email"] == {
        "to": ["ada@example.com"], "subject": "Welcome Ada", "body": "Hello Ada, field_a is A:Ada.",
    }
    assert trace.values == {**ADA, "field_a": "A:Ada", "field_b": "B", "field_c": "C", "field_d": "D"}
    by_id = {node.pk: node for node in Node.objects.filter(tree=tree)}
    assert [by_id[step["node_id"]].kind for step in trace.steps] == [step["kind"] for step in trace.steps]


def test_a_test_run_writes_sends_and_enqueues_nothing(django_capture_on_commit_callbacks):
    _, tree = reference_form_and_tree()
    Record.objects.create(form=tree.form, values={"name": "Kept", "email": "kept@example.com"})
    before = everything()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "done" and len(trace.steps) == 6
    assert callbacks == []
    assert everything() == before


@pytest.mark.django_db(transaction=True)
def test_outside_any_transaction_too_nothing_is_kept_even_what_create_record_fires():
    form, tree = reference_form_and_tree()
    other = form_create("welcome", fields=[{"name": "who", "required": True}])
    tree_create(other, [
        set_field("who", "{{ record.who }}!"),
        {"kind": "background", "children": [
            action("send_email", to="team@example.com", subject="New member", body="{{ record.who }}"),
        ]},
    ])
    Node.objects.create(tree=tree, position=3, kind="action", action="create_record",
                        config={"form": "welcome", "values": {"who": "{{ record.name }}"}})
    before = everything()
    assert before["rows"]["django_q_ormq"] == []

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "done"
    assert trace.steps[3]["label"] == "Create record" and trace.steps[3]["status"] == "ok"
    assert trace.steps[3]["output"].startswith("created welcome #")
    assert everything() == before
    assert not transaction.get_connection().in_atomic_block


def test_a_failing_synchronous_action_means_the_submit_would_be_refused():
    form, _ = reference_form_and_tree()
    tree = tree_create(form, [
        set_field("field_a", "A"),
        {"kind": "background", "children": [set_field("field_b", "B")]},
        action("fail", message="No members called {{ record.name }}"),
        set_field("field_d", "D"),
    ], name="Strict")
    before = everything()

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "refused"
    assert trace.message == "No members called Ada"
    assert trace.error
    assert summary(trace) == [
        ("nodes[0]", "Set field", "sync", "ok"),
        ("nodes[1]", "Background", "sync", "deferred"),
        ("nodes[2]", "Fail", "sync", "failed"),
    ]
    assert trace.steps[1]["output"] == "would not run: the submit is refused"
    assert trace.steps[2]["error"]
    assert everything() == before


def test_a_failing_background_action_means_its_block_would_fail_and_the_others_still_run():
    form, _ = reference_form_and_tree()
    tree = tree_create(form, [
        {"kind": "background", "label": "Checks", "children": [
            set_field("field_b", "B"),
            action("fail", message="Not today"),
            set_field("field_c", "C"),
        ]},
        {"kind": "background", "label": "Later", "children": [set_field("field_d", "D")]},
    ], name="Flaky", max_attempts=4)

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "failed"
    assert trace.message == "Checks: Not today. A real run tries it 4 times; a test run tries once."
    assert summary(trace) == [
        ("nodes[0]", "Checks", "sync", "deferred"),
        ("nodes[1]", "Later", "sync", "deferred"),
        ("nodes[0].children[0]", "Set field", "background", "ok"),
        ("nodes[0].children[1]", "Fail", "background", "failed"),
        ("nodes[1].children[0]", "Set field", "background", "ok"),
    ]
    # The failed block's own change is rolled back; the other block's stays.
    assert trace.values == {**ADA, "field_d": "D"}


def test_an_error_port_handles_the_failure_and_the_run_goes_on():
    form, _ = reference_form_and_tree()
    tree = tree_create(form, [
        action("fail", message="oops", children=[set_field("field_b", "handled")]),
        set_field("field_c", "C"),
    ], name="Careful")

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "done"
    assert [step["status"] for step in trace.steps] == ["failed", "ok", "ok"]
    assert trace.steps[0]["output"] == "handled by its error port"
    assert trace.values["field_b"] == "handled"


def test_blocks_run_in_the_order_of_their_due_time_and_a_delay_says_when():
    form = form_create("visits", fields=[{"name": "name"}, {"name": "note", "internal": True}])
    tree = tree_create(form, [
        {"kind": "delay", "seconds": 3600, "label": "An hour later", "children": [
            set_field("note", "{{ record.note }}+hour"),
            {"kind": "delay", "seconds": 60, "label": "A minute after that", "children": [
                set_field("note", "{{ record.note }}+minute"),
            ]},
        ]},
        {"kind": "background", "label": "At once", "children": [set_field("note", "now")]},
    ])

    trace = tree_test_run(tree=tree, values={"name": "Bo"})

    assert [step["label"] for step in trace.steps] == [
        "An hour later", "At once", "Set field", "Set field", "A minute after that", "Set field",
    ]
    assert trace.steps[0]["output"].endswith(", 1 hour after the submit")
    assert trace.steps[4]["output"].endswith(", 1 minute after its block")
    due = dt.datetime.strptime(trace.steps[4]["output"].split(" at ")[1][:16], "%Y-%m-%d %H:%M")
    expected = timezone.localtime(timezone.now() + dt.timedelta(seconds=3660)).replace(tzinfo=None)
    assert abs(due - expected) < dt.timedelta(minutes=2)
    assert trace.values["note"] == "now+hour+minute"


def test_an_async_tree_runs_everything_in_the_background():
    form, _ = reference_form_and_tree()
    tree = tree_create(form, [set_field("field_a", "A"), set_field("field_b", "B")], name="All later", mode="async")

    trace = tree_test_run(tree=tree, values=ADA)

    assert trace.outcome == "done"
    assert [(step["phase"], step["status"]) for step in trace.steps] == [("background", "ok")] * 2


def test_an_existing_record_is_used_as_it_is_and_left_as_it_was():
    form, tree = reference_form_and_tree()
    record = Record.objects.create(form=form, values={"name": "Cy", "email": "cy@example.com"})

    trace = tree_test_run(tree=tree, record=record)

    assert trace.values["field_a"] == "A:Cy"
    record.refresh_from_db()
    assert record.values == {"name": "Cy", "email": "cy@example.com"}


def test_a_draft_with_an_unconfigured_node_or_an_unknown_field_does_not_run():
    form, tree = reference_form_and_tree()
    before = everything()

    unknown = tree_test_run(tree=tree, values={**ADA, "colour": "red"})
    Node.objects.create(tree=tree, position=5, kind="action", action="set_field", config={})
    unconfigured = tree_test_run(tree=tree, values=ADA)

    assert unknown.outcome == "invalid" and unknown.errors == {"colour": ["The form has no such field."]}
    assert unconfigured.outcome == "invalid" and list(unconfigured.errors) == ["nodes[3]"]
    assert unknown.steps == unconfigured.steps == []
    before["rows"]["eventtree_node"] = everything()["rows"]["eventtree_node"]
    assert everything() == before


def test_every_active_tree_of_the_event_runs_as_one_submit_would_fire_them():
    form, tree = reference_form_and_tree()
    tree_create(form, [{"kind": "background", "children": [set_field("field_c", "second")]},
                       set_field("field_b", "second")], name="Second")
    tree_create(form, [set_field("field_b", "inactive")], name="Off", active=False)
    tree_create(form, [action("set_field")], name="Broken", publish=False)

    trace = form_test_run(form=form, event="submitted", values=ADA)

    assert trace.outcome == "done"
    assert [(step["tree"], step["path"], step["phase"]) for step in trace.steps] == [
        ("On submit", "nodes[0]", "sync"),
        ("On submit", "nodes[1]", "sync"),
        ("On submit", "nodes[2]", "sync"),
        ("Second", "nodes[0]", "sync"),
        ("Second", "nodes[1]", "sync"),
        ("On submit", "nodes[1].children[0]", "background"),
        ("On submit", "nodes[1].children[1]", "background"),
        ("On submit", "nodes[1].children[2]", "background"),
        ("Second", "nodes[0].children[0]", "background"),
    ]
    assert [item["tree"] for item in trace.skipped] == ["Broken"]
    assert trace.values["field_c"] == "second"
    assert json.loads(json.dumps(trace.as_json()))["outcome"] == "done"


def test_what_a_rolled_back_walk_would_have_sent_or_deferred_is_said_not_to_happen():
    form, _ = reference_form_and_tree()
    email = action("send_email", to="{{ record.email }}", subject="Hi", body="Hello")
    tree_create(form, [{"kind": "background", "children": [set_field("field_b", "B")]}], name="First")
    tree_create(form, [email, action("fail", message="No")], name="Refusing")
    in_block = tree_create(form, [{"kind": "background", "label": "Block", "children": [
        email, {"kind": "background", "children": []}, action("fail", message="No"),
    ]}], name="Failing", active=False)

    refused = form_test_run(form=form, event="submitted", values=ADA)
    failed = tree_test_run(tree=in_block, values=ADA)

    assert refused.outcome == "refused"
    outputs = {(step["tree"], step["path"]): step["output"] for step in refused.steps}
    assert outputs[("On submit", "nodes[1]")] == outputs[("First", "nodes[0]")] == "would not run: the submit is refused"
    assert outputs[("Refusing", "nodes[0]")] == "would not send an email to ada@example.com: the submit is refused"
    assert failed.outcome == "failed"
    assert [step["output"] for step in failed.steps[1:3]] == [
        "would not send an email to ada@example.com: its block fails", "would not run: its block fails",
    ]
    assert failed.steps[1]["email"]["subject"] == "Hi"
