"""Validating a form package: every problem, each named by its path (`trees[0].nodes[1]`).

Node kinds validate their own keys (`eventtree.kinds`); this module checks the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.template import TemplateSyntaxError

from eventtree.engine.alerts import alert_email_problems
from eventtree.engine.cron import cron_problem
from eventtree.engine.templating import compile_template
from eventtree.engine.values import field_default_clean, field_name_problem
from eventtree.kinds import Problem, kind_registry
from eventtree.kinds.base import is_integer, suggestion
from eventtree.kinds.condition import CONDITION_KEYS, condition_problems
from eventtree.models import Event, Field, FieldType, Form, RunMode
from eventtree.models.forms import identifier_validator
from eventtree.services.packages.format import (
    FIELD_KEYS,
    FORM_KEYS,
    MAX_ATTEMPTS_RANGE,
    MAX_DEPTH,
    MAX_NODES,
    PACKAGE_KEYS,
    TREE_KEYS,
    node_keys,
)

FORM_SLUG_MAX_LENGTH = Form._meta.get_field("slug").max_length
FORM_NAME_MAX_LENGTH = Form._meta.get_field("name").max_length


class PackageInvalid(Exception):
    """A package that cannot be imported; `problems` name each offending place by its path.

    `slug_taken` is set when the only problem is an existing form with the slug the import would
    take: the caller says how to go on (replace it, or import under another slug).
    """

    def __init__(self, problems: list[str], *, slug_taken: str | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)
        self.slug_taken = slug_taken


@dataclass
class PackageCheck:
    """The state of one validation: the problems found so far and what later checks need."""

    problems: list[str] = dataclass_field(default_factory=list)
    field_types: dict[str, str] = dataclass_field(default_factory=dict)
    node_count: int = 0
    too_many_nodes: bool = False

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def add_all(self, path: str, problems: Iterable[Problem]) -> None:
        for where, message in problems:
            self.add(f"{path}.{where}" if where else path, message)


def form_package_validate(data: Any) -> list[str]:
    """Every problem of a package, each prefixed with its path (`trees[0].nodes[1].children[0]`)."""
    check = PackageCheck()
    if not isinstance(data, dict):
        check.add("package", 'expected an object with "form" and "trees"')
        return check.problems
    keys_check(check, "package", data, PACKAGE_KEYS)
    if "form" not in data:
        check.add("form", "required")
    elif not isinstance(data["form"], dict):
        check.add("form", "expected an object")
    else:
        form_check(check, data["form"])
    trees = data.get("trees", [])
    if not isinstance(trees, list):
        check.add("trees", "expected a list")
    else:
        for index, tree in enumerate(trees):
            tree_check(check, f"trees[{index}]", tree)
    return check.problems


def form_overrides_validate(*, slug: str | None, name: str | None) -> list[str]:
    """The problems of a slug and a name given to import a package's form under, checked as the
    package's own are; None stands for the package's."""
    check = PackageCheck()
    if slug is not None:
        slug_check(check, "slug", slug)
    if name is not None:
        text_check(check, "name", name, required=True, max_length=FORM_NAME_MAX_LENGTH)
    return check.problems


def form_check(check: PackageCheck, data: dict[str, Any]) -> None:
    keys_check(check, "form", data, FORM_KEYS)
    slug_check(check, "form.slug", data.get("slug"))
    text_check(check, "form.name", data.get("name"), required=True, max_length=FORM_NAME_MAX_LENGTH)
    text_check(check, "form.description", data.get("description", ""))
    message = data.get("success_message", "")
    if text_check(check, "form.success_message", message):
        try:
            compile_template(message)  # rendered as a value template, to text
        except TemplateSyntaxError as exc:
            check.add("form.success_message", f"template error: {exc}")
    boolean_check(check, "form.login_required", data.get("login_required", False))
    boolean_check(check, "form.listed", data.get("listed", True))
    flags = data.get("completion_flags", [])
    if not (isinstance(flags, list) and all(isinstance(flag, str) and flag for flag in flags)):
        check.add("form.completion_flags", "expected a list of flag names")
    addresses = data.get("alert_emails", [])
    if not (isinstance(addresses, list) and all(isinstance(address, str) for address in addresses)):
        check.add("form.alert_emails", "expected a list of email addresses")
    else:
        for problem in alert_email_problems(addresses):
            check.add("form.alert_emails", problem)
    fields = data.get("fields", [])
    if not isinstance(fields, list):
        check.add("form.fields", "expected a list")
        return
    for index, item in enumerate(fields):
        field_check(check, f"form.fields[{index}]", item)


def slug_check(check: PackageCheck, path: str, slug: Any) -> None:
    if not isinstance(slug, str) or not slug:
        check.add(path, "required, a string")
        return
    try:
        validate_slug(slug)
    except ValidationError:
        check.add(path, f"{slug!r} is not a valid slug (letters, digits, - and _)")
    if len(slug) > FORM_SLUG_MAX_LENGTH:
        check.add(path, f"longer than {FORM_SLUG_MAX_LENGTH} characters")


def field_check(check: PackageCheck, path: str, data: Any) -> None:
    if not isinstance(data, dict):
        check.add(path, "expected an object")
        return
    keys_check(check, path, data, FIELD_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        check.add(f"{path}.name", "required, a string")
        name = None
    else:
        try:
            identifier_validator(name)
        except ValidationError:
            check.add(f"{path}.name", f"{name!r} is not an identifier (lower-case letters, digits, _)")
        if len(name) > Field._meta.get_field("name").max_length:
            check.add(f"{path}.name", "longer than 64 characters")
        reserved = field_name_problem(name)
        if reserved:
            check.add(f"{path}.name", reserved)
        if name in check.field_types:
            check.add(f"{path}.name", f"a field named {name!r} is already defined")
            name = None
    field_type = data.get("type")
    if field_type not in FieldType.values:
        if "type" not in data:
            check.add(f"{path}.type", "required")
        else:
            check.add(f"{path}.type", f"unknown type {field_type!r}{suggestion(field_type, FieldType.values)}")
        field_type = None
    if name is not None:
        check.field_types[name] = field_type or ""
    text_check(check, f"{path}.label", data.get("label", ""), max_length=200)
    text_check(check, f"{path}.help_text", data.get("help_text", ""), max_length=300)
    boolean_check(check, f"{path}.required", data.get("required", False))
    boolean_check(check, f"{path}.internal", data.get("internal", False))
    choices = data.get("choices", [])
    if not (isinstance(choices, list) and all(isinstance(choice, str) for choice in choices)):
        check.add(f"{path}.choices", "expected a list of strings")
    elif field_type == FieldType.CHOICE and not choices:
        check.add(f"{path}.choices", "a choice field needs at least one choice")
    if field_type is not None:
        try:
            field_default_clean(field_type, data.get("default"))
        except ValueError as exc:
            check.add(f"{path}.default", f"{exc} (a {field_type} field)")


def tree_check(check: PackageCheck, path: str, data: Any) -> None:
    if not isinstance(data, dict):
        check.add(path, "expected an object")
        return
    keys_check(check, path, data, TREE_KEYS)
    text_check(check, f"{path}.name", data.get("name"), required=True, max_length=200)
    event = data.get("event", Event.SUBMITTED)
    if event not in Event.values:
        check.add(f"{path}.event", f"unknown event {event!r}{suggestion(event, Event.values)}")
    mode = data.get("mode", RunMode.SYNC)
    if mode not in RunMode.values:
        check.add(f"{path}.mode", f"unknown mode {mode!r}{suggestion(mode, RunMode.values)}")
    boolean_check(check, f"{path}.active", data.get("active", True))
    attempts = data.get("max_attempts", 3)
    if not is_integer(attempts) or attempts not in MAX_ATTEMPTS_RANGE:
        check.add(f"{path}.max_attempts", "expected a whole number from 1 to 20")
    if event == Event.SCHEDULED:
        cron = data.get("cron")
        problem = cron_problem(cron) if isinstance(cron, str) else "a scheduled tree needs a cron expression"
        if problem:
            check.add(f"{path}.cron", problem)
        if data.get("filter") is not None:
            if isinstance(data["filter"], dict):
                keys_check(check, f"{path}.filter", data["filter"], CONDITION_KEYS)
            check.add_all(f"{path}.filter", condition_problems(data["filter"], check.field_types))
    else:
        for key in ("cron", "filter"):
            if data.get(key):
                check.add(f"{path}.{key}", "only a scheduled tree has one")
    nodes = data.get("nodes", [])
    if not isinstance(nodes, list):
        check.add(f"{path}.nodes", "expected a list")
        return
    nodes_check(check, f"{path}.nodes", nodes, depth=1)


def nodes_check(check: PackageCheck, path: str, nodes: list[Any], *, depth: int) -> None:
    for index, node in enumerate(nodes):
        check.node_count += 1
        if check.node_count > MAX_NODES:
            if not check.too_many_nodes:
                check.add(f"{path}[{index}]", f"a package may hold at most {MAX_NODES} nodes")
                check.too_many_nodes = True
            return
        node_check(check, f"{path}[{index}]", node, depth=depth)


def node_check(check: PackageCheck, path: str, data: Any, *, depth: int) -> None:
    if not isinstance(data, dict):
        check.add(path, "expected a node object")
        return
    if depth > MAX_DEPTH:
        check.add(path, f"nodes nested deeper than {MAX_DEPTH} levels")
        return
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in kind_registry:
        if "kind" not in data:
            check.add(path, f"a node needs a kind ({', '.join(kind_registry.keys())})")
        else:
            check.add(path, f"unknown node kind {kind!r}{suggestion(kind, kind_registry.keys())}")
        return
    keys_check(check, path, data, node_keys(kind))
    text_check(check, f"{path}.label", data.get("label", ""), max_length=200)
    check.add_all(path, kind_registry.get(kind).package_problems(data, check.field_types))
    children = data.get("children", [])
    if not isinstance(children, list):
        check.add(f"{path}.children", "expected a list")
        return
    nodes_check(check, f"{path}.children", children, depth=depth + 1)


def keys_check(check: PackageCheck, path: str, data: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for key in data:
        if key not in allowed:
            check.add(path, f"unknown key {key!r}{suggestion(key, allowed)}")


def text_check(
    check: PackageCheck, path: str, value: Any, *, required: bool = False, max_length: int | None = None
) -> bool:
    if not isinstance(value, str):
        check.add(path, "required, a string" if value is None and required else "expected a string")
        return False
    if required and not value.strip():
        check.add(path, "must not be empty")
        return False
    if max_length is not None and len(value) > max_length:
        check.add(path, f"longer than {max_length} characters")
        return False
    return True


def boolean_check(check: PackageCheck, path: str, value: Any) -> None:
    if not isinstance(value, bool):
        check.add(path, "expected true or false")
