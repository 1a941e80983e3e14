"""What a node kind declares (DESIGN §2, §7): one class per kind holds its config shape.

A kind's config is written once, here and in its subclass: the editor's config form, the summary
and label the editor shows, what a form package writes and reads for it, and what is wrong with
it. This module imports no model: it describes nodes and fields by protocols.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol

from django import forms


class Node(Protocol):
    """What a kind reads of a node: an `eventtree.models.Node`, saved or not (a version's nodes
    are not). A protocol, so that this module imports no model."""

    kind: str
    action: str
    label: str
    config: dict[str, Any]


class Field(Protocol):
    """What a kind reads of a form's field: an `eventtree.models.Field`."""

    name: str
    type: str
    choices: list[str]


class Problem(NamedTuple):
    """One thing wrong with a node: `where` is the package key at fault ("" for the node)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class EmptyConfigForm(forms.Form):
    """The config form of a kind without settings."""

    def config(self) -> dict[str, Any]:
        return {}


class BaseKind:
    """A node kind. Subclasses declare:

    - `key`: the `NodeKind` value stored in `Node.kind` and written as `"kind"` in packages;
    - `label`, `icon`, `description`: how the editor shows it;
    - `runs_later`: its children run in a block after the commit (Background, Delay), not now;
      such a kind says when in `due_at`;
    - `package_keys`: the keys of its config in a package node, besides kind, label and children;
    - `default_config`: the config of a node just added in the editor;

    and override `config_form`, `summary`, `package_attributes`, `config_from_package` and
    `package_problems` as their config needs. An instance holds no state.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    icon: ClassVar[str] = "•"
    description: ClassVar[str] = ""
    runs_later: ClassVar[bool] = False
    package_keys: ClassVar[tuple[str, ...]] = ()
    default_config: ClassVar[dict[str, Any]] = {}
    # The config keys whose value names a field of the tree's form.
    config_field_keys: ClassVar[tuple[str, ...]] = ()

    # The editor ----------------------------------------------------------------------------

    def config_form(self, node: Node, fields: list[Field], data: Any = None) -> forms.Form:
        """The config form of `node`, bound to `data` or showing its stored config."""
        return EmptyConfigForm(data, prefix="config")

    def config_clean(self, node: Node, form: forms.Form, fields: list[Field]) -> dict[str, Any] | None:
        """The config to store from a bound `form`, or None after adding the errors to it."""
        if not form.is_valid():
            return None
        return form.config()

    def summary(self, config: dict[str, Any]) -> str:
        """One line that says what a node of this kind does, for the editor."""
        return self.label

    def node_summary(self, node: Node) -> str:
        """The summary of a stored node; never raises, a summary must not break the editor."""
        try:
            return self.summary(node.config or {})
        except Exception:
            return self.label

    def display_label(self, node: Node) -> str:
        """The node's name in traces and block lists when the builder gave it no label."""
        return self.label

    def phase(self, config: dict[str, Any]) -> tuple[str, str] | None:
        """When its children run, as (key, words), for a kind whose children run later."""
        return None

    @staticmethod
    def due_at(config: dict[str, Any], values: dict[str, Any], now: datetime) -> tuple[datetime | None, str]:
        """For a kind that `runs_later`: when its block is due for a record with `values`, or
        None with the reason when it never can be."""
        raise NotImplementedError

    # The form package ----------------------------------------------------------------------

    def package_node(self, node: Node) -> dict[str, Any]:
        """The node as a package writes it, without its children."""
        data: dict[str, Any] = {"kind": str(self.key), **self.package_type(node)}
        if node.label:
            data["label"] = node.label
        data.update(self.package_attributes(node.config or {}))
        return data

    def package_type(self, node: Node) -> dict[str, Any]:
        """What a package writes right after the kind, naming the node's type (an action's)."""
        return {}

    def package_attributes(self, config: dict[str, Any]) -> dict[str, Any]:
        """The keys a package writes for a stored `config`."""
        return {}

    def config_from_package(self, spec: dict[str, Any]) -> dict[str, Any]:
        """What a node of a validated package node `spec` stores in `Node.config`."""
        return {}

    def package_problems(self, data: dict[str, Any], field_types: dict[str, str]) -> list[Problem]:
        """Everything wrong with the kind's keys of a package node (`field_types`: the form's
        fields by name). Its kind, label, children and unknown keys are checked by the caller."""
        return []

    # Stored nodes --------------------------------------------------------------------------

    def node_problems(self, node: Node, field_types: dict[str, str]) -> list[str]:
        """What is wrong with a stored node of this kind (not its children). Reads no database."""
        return [str(problem) for problem in self.package_problems(self.package_node(node), field_types)]

    def field_keys(self, node: Node) -> tuple[str, ...]:
        """The keys of the node's config that name a field of the form."""
        return self.config_field_keys

    def field_mapping_keys(self, node: Node) -> tuple[str, ...]:
        """The keys of the node's config whose value is an object keyed by fields of the form."""
        return ()

    def value_problems(self, node: Node, fields: dict[str, Field]) -> list[str]:
        """What is wrong with a valid node's values against its form's fields as they are (a
        value that is not one of a choice field's choices), checked before publishing."""
        return []


# Helpers of package validation, shared by the kinds and services/packages -------------------


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number(value: Any) -> Any:
    """A stored whole number as an int; anything else unchanged, so that validation names it."""
    if value in (None, ""):
        return 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def json_copy(value: Any) -> Any:
    """Lists and objects copied, so that stored values never share state with the input."""
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value))
    return value


def suggestion(value: Any, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a close candidate, or nothing."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
