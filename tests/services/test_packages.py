"""The form package (DESIGN §5): export, validation, import, round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from eventtree.models import EventTree, Field, Form, Node, Record, Run
from eventtree.services.packages import (
    MAX_DEPTH,
    PackageInvalid,
    form_package_export,
    form_package_import,
    form_package_load,
    form_package_validate,
)
from eventtree.services.records import record_submit

DEMO_DIR = Path(__file__).resolve().parents[2] / "eventtree" / "demo"


def demo_package(name: str) -> dict[str, Any]:
    return json.loads((DEMO_DIR / f"{name}.json").read_text(encoding="utf-8"))


def log(message: str) -> dict[str, Any]:
    return {"kind": "action", "action": "log", "config": {"message": message}}


# A package in canonical form with every node kind, an error port, a delay by field, several
# condition operators, a scheduled tree with a filter and every optional attribute.
FULL_PACKAGE: dict[str, Any] = {
    "form": {
        "slug": "clinic",
        "name": "Clinic appointments",
        "description": "Book an appointment.",
        "success_message": "See you on {{ record.appointment }}, {{ record.name }}.",
        "login_required": True,
        "completion_flags": ["confirmed"],
        "fields": [
            {"name": "name", "type": "text", "label": "Full name", "required": True},
            {"name": "email", "type": "email", "required": True, "help_text": "For reminders."},
            {"name": "status", "type": "choice", "choices": ["Open", "Won", "Lost"], "default": "Open"},
            {"name": "appointment", "type": "datetime", "required": True},
            {"name": "visits", "type": "number", "internal": True, "default": 0},
            {"name": "reminded", "type": "checkbox", "internal": True, "default": False},
            {"name": "note", "type": "textarea", "internal": True},
        ],
    },
    "trees": [
        {
            "name": "On submit",
            "event": "submitted",
            "mode": "sync",
            "active": True,
            "max_attempts": 3,
            "nodes": [
                {
                    "kind": "action",
                    "action": "set_field",
                    "label": "Count the visit",
                    "config": {"field": "visits", "value": "1"},
                    "children": [log("could not count"), log("second handler")],
                },
                {
                    "kind": "background",
                    "label": "Confirm",
                    "children": [
                        {"kind": "action", "action": "send_email",
                         "config": {"to": "{{ record.email }}", "subject": "Booked", "body": "Booked."}},
                        {"kind": "action", "action": "set_flag", "config": {"name": "confirmed"}},
                    ],
                },
                {"kind": "delay", "seconds": 0, "children": []},
                {"kind": "delay", "label": "Reminder", "seconds": 3600, "children": [log("an hour later")]},
                {
                    "kind": "delay",
                    "field": "appointment",
                    "offset_seconds": -86400,
                    "children": [
                        {"kind": "action", "action": "set_field",
                         "config": {"field": "reminded", "value": "true"}},
                    ],
                },
                {"kind": "delay", "field": "appointment", "offset_seconds": 0, "children": []},
                {
                    "kind": "condition",
                    "field": "status",
                    "op": "eq",
                    "value": "Won",
                    "children": [
                        {
                            "kind": "condition",
                            "label": "Regular",
                            "field": "visits",
                            "op": "gt",
                            "value": 3,
                            "children": [log("a regular")],
                        },
                        {"kind": "condition", "field": "note", "op": "is_set", "children": []},
                    ],
                },
                {"kind": "condition", "field": "note", "op": "is_empty", "children": []},
                {"kind": "condition", "field": "name", "op": "contains", "value": "Dr", "children": []},
            ],
        },
        {
            "name": "Nightly",
            "event": "scheduled",
            "mode": "async",
            "active": False,
            "max_attempts": 5,
            "cron": "0 3 * * *",
            "filter": {"field": "status", "op": "ne", "value": "Lost"},
            "nodes": [
                {"kind": "action", "action": "progress",
                 "config": {"name": "night", "title": "Night", "total": "10", "done": "1", "message": ""}},
                {"kind": "action", "action": "fail", "config": {"message": "stop"}},
            ],
        },
        {"name": "On update", "event": "updated", "mode": "sync", "active": True, "max_attempts": 1,
         "nodes": []},
    ],
}


def model_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Form, Field, EventTree, Node, Record)}


def round_trip_through_empty_database(package: dict[str, Any]) -> dict[str, Any]:
    """Import, export, wipe the database, import the export, and export again."""
    form = form_package_import(data=copy.deepcopy(package))
    exported = json.loads(json.dumps(form_package_export(form=form)))
    Form.objects.all().delete()
    assert model_counts() == dict.fromkeys(["Form", "Field", "EventTree", "Node", "Record"], 0)
    form = form_package_import(data=exported)
    return json.loads(json.dumps(form_package_export(form=form)))


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["membership", "onboarding"])
def test_demo_package_round_trips(name: str) -> None:
    package = demo_package(name)

    assert round_trip_through_empty_database(package) == package


@pytest.mark.django_db
def test_package_with_every_node_kind_round_trips() -> None:
    assert round_trip_through_empty_database(FULL_PACKAGE) == FULL_PACKAGE


@pytest.mark.django_db
def test_import_builds_the_tree_in_order_with_parents() -> None:
    form = form_package_import(data=copy.deepcopy(FULL_PACKAGE))

    tree = form.trees.get(name="On submit")
    roots = list(tree.nodes.filter(parent=None).order_by("position"))
    assert [(node.position, node.kind) for node in roots] == list(enumerate(
        ["action", "background", "delay", "delay", "delay", "delay", "condition", "condition", "condition"]
    ))
    handlers = roots[0].children.order_by("position")
    assert [node.config["message"] for node in handlers] == ["could not count", "second handler"]
    assert roots[4].config == {"field": "appointment", "offset_seconds": -86400}
    assert form.trees.get(name="Nightly").filter == {"field": "status", "op": "ne", "value": "Lost"}
    assert list(form.fields.values_list("name", flat=True)) == [
        "name", "email", "status", "appointment", "visits", "reminded", "note"
    ]


@pytest.mark.django_db
def test_a_300_node_tree_imports_with_a_query_count_that_does_not_grow_with_it(
        django_assert_max_num_queries) -> None:
    # 100 Backgrounds, each with two actions under it: three levels counting the error port.
    nodes = [{"kind": "background", "label": f"b{i}", "children": [
        {"kind": "action", "action": "log", "config": {"message": f"{i}"}, "children": [log(f"{i} failed")]},
    ]} for i in range(100)]
    package = {"form": {"slug": "big", "name": "Big", "fields": []},
               "trees": [{"name": "On submit", "event": "submitted", "mode": "sync", "active": True,
                          "max_attempts": 3, "nodes": nodes}]}

    # Fifteen to create the form and its nodes; then the draft read back, checked and published.
    with django_assert_max_num_queries(20):
        form = form_package_import(data=copy.deepcopy(package))

    assert form.trees.get().nodes.count() == 300
    assert json.loads(json.dumps(form_package_export(form=form))) == package  # order and nesting kept


@pytest.mark.django_db
def test_imported_reference_tree_runs(drain_blocks) -> None:
    form = form_package_import(data=demo_package("membership"))

    record, submission = record_submit(form=form, values={"name": "Ann", "email": "ann@example.com"})

    record.refresh_from_db()
    assert submission is not None
    assert record.values["field_a"] == "A:Ann"
    assert record.values["field_d"] == "D"
    assert "field_b" not in record.values
    drain_blocks()
    record.refresh_from_db()
    assert (record.values["field_b"], record.values["field_c"]) == ("B", "C")
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]


def invalid_package() -> dict[str, Any]:
    package = copy.deepcopy(FULL_PACKAGE)
    package["form"]["fields"].append({"name": "colour", "type": "colour"})
    package["form"]["fields"].append({"name": "email", "type": "email"})
    package["form"]["fields"].append({"name": "Bad-Name", "type": "text"})
    package["form"]["fields"].append({"name": "size", "type": "choice"})
    nodes = package["trees"][0]["nodes"]
    nodes[0]["config"]["field"] = "x"
    nodes[1]["children"].append({"kind": "action", "action": "sned_email", "config": {}})
    nodes[3]["chidren"] = nodes[3].pop("children")
    nodes[4]["field"] = "name"
    nodes[6]["op"] = "equals"
    # A node deep inside containers: the condition's child condition's child.
    nodes[6]["children"][0]["children"].append({"kind": "action", "action": "set_field", "config": {"value": "1"}})
    nodes[7]["value"] = "oops"
    package["trees"][1]["cron"] = "every night"
    package["trees"][1]["max_attempts"] = 50
    package["trees"][2]["event"] = "sbumitted"
    return package


EXPECTED_PROBLEMS = [
    "form.fields[7].type: unknown type 'colour'",
    "form.fields[8].name: a field named 'email' is already defined",
    "form.fields[9].name: 'Bad-Name' is not an identifier (lower-case letters, digits, _)",
    "form.fields[10].choices: a choice field needs at least one choice",
    "trees[0].nodes[0].config: field: the form has no field named 'x'",
    "trees[0].nodes[1].children[2]: unknown action type 'sned_email' (did you mean 'send_email'?)",
    "trees[0].nodes[3]: unknown key 'chidren' (did you mean 'children'?)",
    "trees[0].nodes[4].field: 'name' is not a date or datetime field",
    "trees[0].nodes[6].op: unknown operator 'equals' (one of eq, ne, contains, gt, gte, lt, lte, is_empty, is_set)",
    "trees[0].nodes[6].children[0].children[1].config: field: This field is required.",
    "trees[0].nodes[7].value: is_empty takes no value",
    "trees[1].max_attempts: expected a whole number from 1 to 20",
    "trees[1].cron: 'every night' is not a valid cron expression",
    "trees[2].event: unknown event 'sbumitted' (did you mean 'submitted'?)",
]


def test_validate_names_every_problem_by_its_path() -> None:
    problems = form_package_validate(invalid_package())

    assert sorted(problems) == sorted(EXPECTED_PROBLEMS)


@pytest.mark.django_db
def test_invalid_package_is_refused_whole_and_changes_nothing() -> None:
    form_package_import(data=demo_package("membership"))
    before = model_counts()
    package = invalid_package()
    package["form"]["slug"] = "membership"

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=package, replace=True)

    assert sorted(refused.value.problems) == sorted(EXPECTED_PROBLEMS)
    assert str(refused.value) == "\n".join(refused.value.problems)
    assert model_counts() == before
    assert form_package_export(form=Form.objects.get(slug="membership")) == demo_package("membership")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], 'package: expected an object with "form" and "trees"'),
        ({"trees": []}, "form: required"),
        ({"form": [], "trees": []}, "form: expected an object"),
        ({"form": {"slug": "a", "name": "A"}, "trees": {}}, "trees: expected a list"),
        ({"form": {"slug": "a", "name": "A"}, "tree": []}, "package: unknown key 'tree' (did you mean 'trees'?)"),
        ({"form": {"slug": "a b", "name": "A"}}, "form.slug: 'a b' is not a valid slug (letters, digits, - and _)"),
        ({"form": {"slug": "a", "name": " "}}, "form.name: must not be empty"),
        ({"form": {"slug": "a", "name": "A", "success_message": "{% if %}"}},
         "form.success_message: template error: Unexpected end of expression in if tag."),
    ],
)
def test_validate_reports_a_malformed_package(data: Any, problem: str) -> None:
    assert form_package_validate(data) == [problem]


def test_validate_checks_tree_and_node_shapes() -> None:
    package = {
        "form": {"slug": "a", "name": "A", "fields": [{"name": "day", "type": "date"}]},
        "trees": [
            {"name": "Nightly", "event": "scheduled", "nodes": []},
            {"name": "Odd", "mode": "later", "cron": "* * * * *", "nodes": [
                {"kind": "pause"},
                {"kind": "delay", "seconds": -1, "children": []},
                {"kind": "delay", "seconds": 1, "field": "day", "children": []},
                {"kind": "delay", "children": []},
                {"kind": "delay", "field": "day", "offset_seconds": "1 day", "children": []},
                {"kind": "background", "children": {}},
                {"kind": "condition", "field": "missing", "op": "eq", "children": []},
            ]},
        ],
    }

    assert form_package_validate(package) == [
        "trees[0].cron: a scheduled tree needs a cron expression",
        "trees[1].mode: unknown mode 'later'",
        "trees[1].cron: only a scheduled tree has one",
        "trees[1].nodes[0]: unknown node kind 'pause'",
        "trees[1].nodes[1].seconds: expected a whole number of seconds, 0 or more",
        "trees[1].nodes[2]: a delay has either seconds or field, not both",
        "trees[1].nodes[3]: a delay needs seconds (0 is now) or a date field",
        "trees[1].nodes[4].offset_seconds: expected a whole number of seconds",
        "trees[1].nodes[5].children: expected a list",
        "trees[1].nodes[6].field: the form has no field named 'missing'",
        "trees[1].nodes[6].value: required with eq",
    ]


def test_validate_limits_depth_and_node_count() -> None:
    deep: dict[str, Any] = log("bottom")
    for _ in range(MAX_DEPTH + 5):
        deep = {"kind": "background", "children": [deep]}
    wide = [log(str(number)) for number in range(2001)]
    package = {
        "form": {"slug": "a", "name": "A"},
        "trees": [{"name": "Deep", "nodes": [deep]}, {"name": "Wide", "nodes": wide}],
    }

    problems = form_package_validate(package)

    assert problems == [
        "trees[0].nodes[0]" + ".children[0]" * MAX_DEPTH + ": nodes nested deeper than 50 levels",
        "trees[1].nodes[1949]: a package may hold at most 2000 nodes",
    ]


@pytest.mark.django_db
def test_existing_slug_is_refused_without_replace() -> None:
    form_package_import(data=demo_package("membership"))
    before = model_counts()

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=demo_package("membership"))

    # Worded without a command-line flag: the command and the builder each say how to go on.
    assert refused.value.problems == ["form.slug: a form with slug 'membership' already exists"]
    assert refused.value.slug_taken == "membership"
    assert model_counts() == before


@pytest.mark.django_db
def test_replace_updates_form_keeps_records_and_runs_and_replaces_trees() -> None:
    form = form_package_import(data=copy.deepcopy(FULL_PACKAGE))
    record = Record.objects.create(form=form, values={"name": "Ann", "note": "kept", "visits": 2})
    old_tree = form.trees.get(name="On submit")
    run = Run.objects.create(tree=old_tree, version=old_tree.published, record=record, event="submitted")
    old_node_ids = set(Node.objects.values_list("id", flat=True))
    package = copy.deepcopy(FULL_PACKAGE)
    package["form"]["name"] = "Clinic"
    del package["form"]["login_required"]
    package["form"]["fields"] = [
        {"name": "note", "type": "text", "label": "Note"},
        {"name": "name", "type": "text", "required": True},
        {"name": "phone", "type": "text"},
    ]
    package["trees"] = [{"name": "Only", "event": "submitted", "mode": "sync", "active": True,
                         "max_attempts": 3, "nodes": [log("replaced")]}]

    replaced = form_package_import(data=package, replace=True)

    assert replaced.pk == form.pk
    exported = form_package_export(form=replaced)
    assert [tree for tree in exported["trees"] if tree["active"]] == package["trees"]
    # The trees the package lacks are kept inactive, with their run history, after its own.
    assert [(tree["name"], tree["active"]) for tree in exported["trees"]] == [
        ("Only", True), ("On submit", False), ("Nightly", False), ("On update", False)]
    assert Run.objects.filter(pk=run.pk).exists()
    exported["trees"] = exported["trees"][:1]
    assert exported == package
    assert replaced.login_required is False
    record.refresh_from_db()
    assert record.values == {"name": "Ann", "note": "kept", "visits": 2}
    assert not Node.objects.filter(tree__name="Only", id__in=old_node_ids).exists()
    assert Form.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"form": {"slug": "a",}}', "not valid JSON: line 1 column 23: Expecting property name enclosed in double quotes"),
        ("", "not valid JSON: line 1 column 1: Expecting value"),
        ("[" * 100_000, "not valid JSON: nested too deeply"),
    ],
)
def test_load_reports_where_the_json_is_broken(text: str, problem: str) -> None:
    with pytest.raises(PackageInvalid) as refused:
        form_package_load(text)

    assert refused.value.problems == [problem]


def test_load_returns_the_parsed_document() -> None:
    assert form_package_load('{"form": {"slug": "a"}}') == {"form": {"slug": "a"}}


# Values that were accepted and then made every submit fail (issue 8). Each test below fails on
# 33342d1.


def small_package(*, fields: list[dict[str, Any]] | None = None, nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"form": {"slug": "a", "name": "A", "fields": fields or [{"name": "day", "type": "date"}]},
            "trees": [{"name": "T", "nodes": nodes or []}]}


@pytest.mark.parametrize(("text", "problem"), [
    ("NaN", "not valid JSON: NaN is not a number JSON allows"),
    ("Infinity", "not valid JSON: Infinity is not a number JSON allows"),
    ("-Infinity", "not valid JSON: -Infinity is not a number JSON allows"),
    ("1e309", "form.fields[0].default: inf is not a finite number (a number field)"),
])
def test_a_number_default_that_is_not_finite_is_refused(text: str, problem: str) -> None:
    document = '{"form": {"slug": "a", "name": "A", "fields": [{"name": "n", "type": "number", "default": %s}]}}' % text

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=form_package_load(document))

    assert refused.value.problems == [problem]
    assert form_package_validate(small_package(fields=[{"name": "n", "type": "number", "default": float(text)}])) == [
        f"form.fields[0].default: {float(text)!r} is not a finite number (a number field)"]


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ({"kind": "delay", "seconds": 10**12, "children": []},
         "trees[0].nodes[0].seconds: at most 315619200 seconds (10 years (3653 days))"),
        ({"kind": "delay", "field": "day", "offset_seconds": 10**12, "children": []},
         "trees[0].nodes[0].offset_seconds: at most 315619200 seconds (10 years (3653 days)) either way"),
        ({"kind": "delay", "field": "day", "offset_seconds": -(10**12), "children": []},
         "trees[0].nodes[0].offset_seconds: at most 315619200 seconds (10 years (3653 days)) either way"),
    ],
)
def test_a_delay_longer_than_ten_years_is_refused(node: dict[str, Any], problem: str) -> None:
    assert form_package_validate(small_package(nodes=[node])) == [problem]


def test_a_delay_of_ten_years_is_accepted() -> None:
    assert form_package_validate(small_package(nodes=[{"kind": "delay", "seconds": 3653 * 86400, "children": []}])) == []


@pytest.mark.parametrize("name", ["csrfmiddlewaretoken", "id", "created_at"])
def test_a_reserved_field_name_is_refused(name: str) -> None:
    problems = form_package_validate(small_package(fields=[{"name": name, "type": "text"}]))

    assert problems == [
        f"form.fields[0].name: {name!r} is a reserved name (not created_at, csrfmiddlewaretoken, id)"]


@pytest.mark.django_db
def test_defaults_are_read_with_the_rules_of_the_builder() -> None:
    package = small_package(fields=[
        {"name": "n", "type": "number", "default": "2.50"},
        {"name": "b", "type": "checkbox", "default": "yes"},
        {"name": "d", "type": "date", "default": "2026-02-30"},
    ])
    assert form_package_validate(package) == [
        "form.fields[2].default: '2026-02-30' is not a date (YYYY-MM-DD) (a date field)"]
    package["form"]["fields"].pop()

    form = form_package_import(data=package)

    assert dict(form.fields.values_list("name", "default")) == {"n": 2.5, "b": True}


# Import as a copy (issue 9): a new slug and name, applied once the package validates.


@pytest.mark.django_db
def test_a_package_imports_as_a_copy_next_to_its_original() -> None:
    original = form_package_import(data=demo_package("membership"))
    Record.objects.create(form=original, values={"name": "Ada"})

    copied = form_package_import(data=demo_package("membership"), slug="membership-copy", name="Membership (copy)")

    assert (copied.slug, copied.name) == ("membership-copy", "Membership (copy)")
    assert copied.pk != original.pk and original.records.count() == 1 and copied.records.count() == 0
    expected = demo_package("membership")
    expected["form"].update(slug="membership-copy", name="Membership (copy)")
    assert form_package_export(form=copied) == expected
    assert form_package_export(form=Form.objects.get(pk=original.pk)) == demo_package("membership")


@pytest.mark.django_db
def test_a_new_name_alone_keeps_the_slug_and_a_taken_new_slug_is_refused() -> None:
    form_package_import(data=demo_package("membership"), name="Members")
    assert Form.objects.get(slug="membership").name == "Members"
    form_package_import(data=demo_package("membership"), slug="copy")
    before = model_counts()

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=demo_package("membership"), slug="copy")

    assert refused.value.problems == ["slug: a form with slug 'copy' already exists"]
    assert refused.value.slug_taken == "copy"
    assert model_counts() == before
    replaced = form_package_import(data=demo_package("membership"), slug="copy", name="Copy", replace=True)
    assert (replaced.slug, replaced.name, Form.objects.count()) == ("copy", "Copy", 2)


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "name", "problem"), [
    ("a copy", None, "slug: 'a copy' is not a valid slug (letters, digits, - and _)"),
    ("x" * 101, None, "slug: longer than 100 characters"),
    ("", None, "slug: required, a string"),
    (None, "  ", "name: must not be empty"),
    (None, "x" * 201, "name: longer than 200 characters"),
])
def test_a_new_slug_or_name_is_checked_like_the_form_settings(slug: str | None, name: str | None, problem: str) -> None:
    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=demo_package("membership"), slug=slug, name=name)

    assert refused.value.problems == [problem] and refused.value.slug_taken is None
    assert Form.objects.count() == 0


@pytest.mark.django_db
def test_an_invalid_package_is_refused_for_its_own_problems_whatever_the_new_slug() -> None:
    package = demo_package("membership")
    package["form"]["slug"] = "not a slug"

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=package, slug="fine", name="Fine")

    assert refused.value.problems == ["form.slug: 'not a slug' is not a valid slug (letters, digits, - and _)"]
