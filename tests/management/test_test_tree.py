"""`manage.py test_tree` (DESIGN §3.9, §5): a test run from the command line, for CI."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import CommandError, call_command

from eventtree.models import Record
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, set_field, tree_create

pytestmark = pytest.mark.django_db

ADA = json.dumps({"name": "Ada", "email": "ada@example.com"})


def run(*args: Any) -> tuple[dict[str, Any], str]:
    """The printed trace and what went to stderr; raises CommandError (exit 1) as the command does."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("test_tree", *args, stdout=stdout, stderr=stderr)
    return json.loads(stdout.getvalue()), stderr.getvalue()


def run_failing(*args: Any) -> tuple[dict[str, Any] | None, str]:
    stdout = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("test_tree", *args, stdout=stdout, stderr=io.StringIO())
    return (json.loads(stdout.getvalue()) if stdout.getvalue() else None), str(failure.value)


def everything() -> dict[str, Any]:
    models = [*apps.get_app_config("eventtree").get_models(), *apps.get_app_config("django_q").get_models()]
    return {"rows": {model._meta.db_table: list(model.objects.order_by("pk").values()) for model in models},
            "mail": len(mail.outbox)}


@pytest.fixture
def membership():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    tree_create(form, reference_tree_nodes())
    return form


def test_prints_the_trace_as_json_and_changes_nothing(membership):
    before = everything()

    trace, stderr = run("membership", "--values", ADA)

    assert trace["outcome"] == "done" and stderr == ""
    assert [(step["path"], step["kind"], step["phase"], step["status"]) for step in trace["steps"]] == [
        ("nodes[0]", "action", "sync", "ok"),
        ("nodes[1]", "background", "sync", "deferred"),
        ("nodes[2]", "action", "sync", "ok"),
        ("nodes[1].children[0]", "action", "background", "ok"),
        ("nodes[1].children[1]", "action", "background", "ok"),
        ("nodes[1].children[2]", "action", "background", "ok"),
    ]
    assert set(trace["steps"][0]) >= {"path", "kind", "label", "phase", "status", "output", "error", "tree"}
    assert trace["steps"][0]["output"] == "field_a = 'A:Ada'"
    assert trace["steps"][5]["email"]["to"] == ["ada@example.com"]
    assert everything() == before


def test_exits_1_when_the_submit_would_be_refused(membership):
    tree_create(membership, [action("fail", message="Sorry, {{ record.name }}")], name="Gate")

    trace, message = run_failing("membership", "--tree", "Gate", "--values", ADA)

    assert trace["outcome"] == "refused" and trace["message"] == "Sorry, Ada"
    assert message == "The submit would be refused: Sorry, Ada"
    assert Record.objects.count() == 0


def test_exits_1_when_a_background_block_would_fail(membership):
    tree_create(membership, [{"kind": "background", "label": "Later", "children": [action("fail", message="No")]}],
                name="Later")

    trace, message = run_failing("membership", "--values", ADA)

    assert trace["outcome"] == "failed"
    assert message.startswith("A background block would fail: Later: No.")
    assert [step["tree"] for step in trace["steps"]] == ["On submit"] * 3 + ["Later"] + ["On submit"] * 3 + ["Later"]


def test_invalid_sample_values_exit_1_naming_each_field(membership):
    trace, message = run_failing("membership", "--values", '{"name": "Ada", "email": "not an address", "field_a": "x"}')

    assert trace["outcome"] == "invalid"
    assert trace["errors"] == {
        "field_a": ["An internal field: actions set it, a submit cannot."],
        "email": ["Enter a valid email address."],
    }
    assert "email: Enter a valid email address." in message


@pytest.mark.parametrize(("args", "expected"), [
    (("nope", "--values", ADA), "No form with slug 'nope'."),
    (("membership", "--tree", "Nope", "--values", ADA),
     "The form 'membership' has no tree named 'Nope' (its trees: 'On submit')."),
    (("membership", "--values", "{nope"), "--values is not valid JSON: line 1 column 2"),
    (("membership", "--record", "999"), "The form 'membership' has no record 999."),
])
def test_unknown_names_and_broken_input_are_clear_errors(membership, args, expected):
    trace, message = run_failing(*args)

    assert trace is None and message.startswith(expected)


def test_an_existing_record_and_values_from_a_file(membership, tmp_path: Path):
    record = Record.objects.create(form=membership, values={"name": "Bo", "email": "bo@example.com"})
    values = tmp_path / "sample.json"
    values.write_text('{"name": "Cy"}', encoding="utf-8")

    trace, _ = run("membership", "--record", str(record.pk), "--values", f"@{values}")

    assert trace["values"]["field_a"] == "A:Cy" and trace["values"]["email"] == "bo@example.com"
    record.refresh_from_db()
    assert record.values == {"name": "Bo", "email": "bo@example.com"}


def test_one_tree_by_name_runs_even_when_inactive(membership):
    tree_create(membership, [set_field("field_b", "off")], name="Off", active=False)

    everyone, _ = run("membership", "--values", ADA)
    one, _ = run("membership", "--tree", "Off", "--values", ADA)

    assert {step["tree"] for step in everyone["steps"]} == {"On submit"}
    assert [step["output"] for step in one["steps"]] == ["field_b = 'off'"]


def test_an_event_without_active_trees_runs_nothing_and_says_so(membership):
    trace, stderr = run("membership", "--event", "updated", "--record", str(
        Record.objects.create(form=membership, values={"name": "Bo", "email": "bo@example.com"}).pk))

    assert trace["outcome"] == "done" and trace["steps"] == []
    assert stderr.strip() == "No active tree of 'membership' fires on updated: nothing would run."
