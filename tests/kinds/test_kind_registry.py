"""The node kinds' registry and the check of one stored node (eventtree/kinds/registry.py)."""

from __future__ import annotations

import pytest

from eventtree.kinds import AlreadyRegistered, BaseKind, KindRegistry, UnknownKind, kind_registry, node_label, node_problems
from eventtree.kinds.action import ActionKind
from eventtree.kinds.background import BackgroundKind
from eventtree.kinds.condition import ConditionKind
from eventtree.kinds.delay import DelayKind
from eventtree.models import Node, NodeKind


class Pause(BaseKind):
    key = "pause"
    label = "Pause"


def test_register_and_get() -> None:
    kinds = KindRegistry()
    kinds.register(Pause)
    assert isinstance(kinds.get("pause"), Pause)
    assert "pause" in kinds and kinds.keys() == ["pause"]
    with pytest.raises(UnknownKind):
        kinds.get("approval")


def test_register_refuses_what_is_not_a_kind_a_missing_key_and_duplicates() -> None:
    kinds = KindRegistry()
    with pytest.raises(TypeError):
        kinds.register(object)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kinds.register(Pause())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        kinds.register(type("NoKey", (BaseKind,), {"label": "No key"}))
    with pytest.raises(ValueError, match="key"):
        kinds.register(type("BadKey", (BaseKind,), {"key": "Bad Key", "label": "Bad"}))
    with pytest.raises(ValueError, match="label"):
        kinds.register(type("NoLabel", (BaseKind,), {"key": "nolabel"}))
    kinds.register(Pause)
    with pytest.raises(AlreadyRegistered):
        kinds.register(type("Again", (BaseKind,), {"key": "pause", "label": "Again"}))


def test_the_app_registers_every_node_kind_once() -> None:
    assert kind_registry.keys() == list(NodeKind.values)
    assert [type(kind) for kind in kind_registry] == [ActionKind, BackgroundKind, DelayKind, ConditionKind]
    assert {kind.key for kind in kind_registry if kind.runs_later} == {NodeKind.BACKGROUND, NodeKind.DELAY}


FIELDS = {"name": "text", "day": "date"}


@pytest.mark.parametrize(
    ("node", "problems"),
    [
        (Node(kind="action", action="set_field", config={"field": "name", "value": "x"}), []),
        (Node(kind="action", action="sned_email", config={}),
         ["unknown action type 'sned_email' (did you mean 'send_email'?)"]),
        (Node(kind="action", action="set_field", config={"field": "gone", "value": "x"}),
         ["config: field: the form has no field named 'gone'"]),
        (Node(kind="action", action="set_field", config={"value": "{% if %}"}),
         ["config: field: This field is required.",
          "config: value: Template error: Unexpected end of expression in if tag."]),
        (Node(kind="background"), []),
        (Node(kind="delay", config={"seconds": 3600}), []),
        (Node(kind="delay", config={"seconds": 10**12}),
         ["seconds: at most 315619200 seconds (10 years (3653 days))"]),
        (Node(kind="delay", config={"field": "name", "offset_seconds": 0}),
         ["field: 'name' is not a date or datetime field"]),
        (Node(kind="delay", config={"field": "day", "offset_seconds": "soon"}),
         ["offset_seconds: expected a whole number of seconds"]),
        (Node(kind="condition", config={"field": "", "op": "eq", "value": ""}), ["field: required"]),
        (Node(kind="condition", config={"field": "name", "op": "is_set"}), []),
        (Node(kind="condition", config={"field": "name", "op": "above", "value": 1}),
         ["op: unknown operator 'above' (one of eq, ne, contains, gt, gte, lt, lte, is_empty, is_set)"]),
        (Node(kind="approval"), ["unknown node kind 'approval'"]),
    ],
)
def test_node_problems_say_what_is_wrong_with_a_stored_node(node: Node, problems: list[str]) -> None:
    assert node_problems(node, FIELDS) == problems


@pytest.mark.django_db
def test_node_problems_read_no_database(django_assert_num_queries) -> None:
    nodes = [Node(kind="action", action="set_field", config={"field": "name", "value": "{{ record.day }}"}),
             Node(kind="delay", config={"field": "day", "offset_seconds": -60}),
             Node(kind="condition", config={"field": "name", "op": "eq", "value": "x"})]
    with django_assert_num_queries(0):
        assert [node_problems(node, FIELDS) for node in nodes] == [[], [], []]


@pytest.mark.parametrize(
    ("node", "label", "summary"),
    [
        (Node(kind="action", action="set_field", config={"field": "a", "value": "b"}), "Set field", "set a = 'b'"),
        (Node(kind="action", action="gone_type"), "Gone type", "unknown action type 'gone_type'"),
        (Node(kind="background"), "Background", "run the children in a worker, in order"),
        (Node(kind="delay", config={"seconds": 7200}), "Delay (2 h)", "wait 2 h"),
        (Node(kind="delay", config={"field": "day", "offset_seconds": -86400}),
         "Delay (1 d before day)", "wait 1 d before day"),
        (Node(kind="delay", config={"seconds": "junk"}), "Delay ('junk' s)", "wait 'junk' s"),
        (Node(kind="condition", config={"field": "a", "op": "eq", "value": "x"}), "If a eq x", "if a equals 'x'"),
    ],
)
def test_labels_and_summaries_come_from_the_kind(node: Node, label: str, summary: str) -> None:
    assert node_label(node) == label
    assert kind_registry.get(node.kind).node_summary(node) == summary


@pytest.mark.parametrize(
    "node",
    [
        Node(kind="action", action="log", label="Note", config={"message": "hi"}),
        Node(kind="background", label="Slow"),
        Node(kind="delay", config={"seconds": 60}),
        Node(kind="delay", config={"field": "day", "offset_seconds": -3600}),
        Node(kind="condition", config={"field": "name", "op": "is_empty"}),
        Node(kind="condition", config={"field": "name", "op": "gt", "value": 3}),
    ],
)
def test_a_kind_reads_back_what_it_writes_to_a_package(node: Node) -> None:
    kind = kind_registry.get(node.kind)
    spec = kind.package_node(node)
    assert spec["kind"] == node.kind and spec.get("label", "") == node.label
    assert kind.config_from_package(spec) == node.config
    assert set(spec) <= {"kind", "label", *kind.package_keys}
