"""The form package: a form, its fields and its event trees as one JSON document (DESIGN §5).

The canonical form of a package is what `form_package_export` writes; importing a canonical
package and exporting it again gives back the same package.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.template import TemplateSyntaxError

from eventtree.actions.registry import registry
from eventtree.engine.conditions import OPERATORS, UNARY_OPERATORS
from eventtree.engine.events import active_trees_forget
from eventtree.engine.templating import compile_template
from eventtree.engine.trees import tree_load
from eventtree.models import Event, EventTree, Field, FieldType, Form, Node, NodeKind, RunMode
from eventtree.models.forms import identifier_validator

MAX_DEPTH = 50
MAX_NODES = 2000
MAX_ATTEMPTS_RANGE = range(1, 21)

PACKAGE_KEYS = ("form", "trees")
FORM_KEYS = (
    "slug", "name", "description", "success_message", "login_required", "completion_flags", "fields",
)
FIELD_KEYS = ("name", "type", "label", "required", "internal", "choices", "default", "help_text")
TREE_KEYS = ("name", "event", "mode", "active", "max_attempts", "cron", "filter", "nodes")
CONDITION_KEYS = ("field", "op", "value")
NODE_KEYS = {
    NodeKind.ACTION: ("kind", "action", "label", "config", "children"),
    NodeKind.BACKGROUND: ("kind", "label", "children"),
    NodeKind.DELAY: ("kind", "label", "seconds", "field", "offset_seconds", "children"),
    NodeKind.CONDITION: ("kind", "label", "field", "op", "value", "children"),
}
MOMENT_TYPES = (FieldType.DATE, FieldType.DATETIME)


def model_defaults(model: type, names: Iterable[str]) -> dict[str, Any]:
    return {name: model._meta.get_field(name).get_default() for name in names}


# Attributes written to a package only when they differ from these defaults.
FORM_DEFAULTS = model_defaults(
    Form, ("description", "success_message", "login_required", "completion_flags")
)
FIELD_DEFAULTS = model_defaults(
    Field, ("label", "required", "internal", "choices", "default", "help_text")
)


class PackageInvalid(Exception):
    """A package that cannot be imported; `problems` name each offending place by its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# Export ----------------------------------------------------------------------------------------


def form_package_export(*, form: Form) -> dict[str, Any]:
    """The package of `form`: its attributes, fields and trees, in position order."""
    form_data: dict[str, Any] = {"slug": form.slug, "name": form.name}
    for name, default in FORM_DEFAULTS.items():
        value = getattr(form, name)
        if value != default:
            form_data[name] = value
    form_data["fields"] = [field_export(item) for item in form.fields.order_by("position", "id")]
    trees = [tree_export(tree) for tree in form.trees.order_by("position", "id")]
    return {"form": form_data, "trees": trees}


def field_export(item: Field) -> dict[str, Any]:
    data: dict[str, Any] = {"name": item.name, "type": item.type}
    for name, default in FIELD_DEFAULTS.items():
        value = getattr(item, name)
        if value != default:
            data[name] = value
    return data


def tree_export(tree: EventTree) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": tree.name,
        "event": tree.event,
        "mode": tree.mode,
        "active": tree.active,
        "max_attempts": tree.max_attempts,
    }
    if tree.event == Event.SCHEDULED:
        data["cron"] = tree.cron
        if tree.filter:
            data["filter"] = condition_export(tree.filter)
    data["nodes"] = [node_export(node) for node in tree_load(tree.pk)]
    return data


def node_export(node: Node) -> dict[str, Any]:
    data = node_attributes(node)
    children = [node_export(child) for child in node.child_nodes]
    # An action's children are its error port, which most actions do not have.
    if children or node.kind != NodeKind.ACTION:
        data["children"] = children
    return data


def node_attributes(node: Node) -> dict[str, Any]:
    """A node as the package writes it, without its children."""
    data: dict[str, Any] = {"kind": node.kind}
    config = node.config or {}
    if node.kind == NodeKind.ACTION:
        data["action"] = node.action
    if node.label:
        data["label"] = node.label
    if node.kind == NodeKind.ACTION:
        data["config"] = dict(config)
    elif node.kind == NodeKind.DELAY:
        if config.get("field"):
            data["field"] = config["field"]
            data["offset_seconds"] = int(config.get("offset_seconds") or 0)
        else:
            data["seconds"] = int(config.get("seconds") or 0)
    elif node.kind == NodeKind.CONDITION:
        data.update(condition_export(config))
    return data


def condition_export(config: dict[str, Any]) -> dict[str, Any]:
    data = {"field": config.get("field"), "op": config.get("op")}
    if config.get("op") not in UNARY_OPERATORS:
        data["value"] = config.get("value", "")
    return data


# Validation ------------------------------------------------------------------------------------


@dataclass
class PackageCheck:
    """The state of one validation: the problems found so far and what later checks need."""

    problems: list[str] = dataclass_field(default_factory=list)
    field_types: dict[str, str] = dataclass_field(default_factory=dict)
    node_count: int = 0
    too_many_nodes: bool = False

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")


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


def form_check(check: PackageCheck, data: dict[str, Any]) -> None:
    keys_check(check, "form", data, FORM_KEYS)
    slug = data.get("slug")
    if not isinstance(slug, str) or not slug:
        check.add("form.slug", "required, a string")
    else:
        try:
            validate_slug(slug)
        except ValidationError:
            check.add("form.slug", f"{slug!r} is not a valid slug (letters, digits, - and _)")
        if len(slug) > Form._meta.get_field("slug").max_length:
            check.add("form.slug", "longer than 100 characters")
    text_check(check, "form.name", data.get("name"), required=True, max_length=200)
    text_check(check, "form.description", data.get("description", ""))
    message = data.get("success_message", "")
    if text_check(check, "form.success_message", message):
        try:
            compile_template(message, html=True)
        except TemplateSyntaxError as exc:
            check.add("form.success_message", f"template error: {exc}")
    boolean_check(check, "form.login_required", data.get("login_required", False))
    flags = data.get("completion_flags", [])
    if not (isinstance(flags, list) and all(isinstance(flag, str) and flag for flag in flags)):
        check.add("form.completion_flags", "expected a list of flag names")
    fields = data.get("fields", [])
    if not isinstance(fields, list):
        check.add("form.fields", "expected a list")
        return
    for index, item in enumerate(fields):
        field_check(check, f"form.fields[{index}]", item)


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
    if data.get("default") is not None and field_type is not None:
        default_check(check, f"{path}.default", data["default"], field_type)


def default_check(check: PackageCheck, path: str, value: Any, field_type: str) -> None:
    if field_type == FieldType.CHECKBOX:
        expected_ok = isinstance(value, bool)
        expected = "true or false"
    elif field_type == FieldType.NUMBER:
        expected_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    else:
        expected_ok = isinstance(value, str)
        expected = "a string"
    if not expected_ok:
        check.add(path, f"expected {expected} for a {field_type} field")


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
        if not isinstance(cron, str) or not cron.strip():
            check.add(f"{path}.cron", "a scheduled tree needs a cron expression")
        elif not croniter.is_valid(cron):
            check.add(f"{path}.cron", f"{cron!r} is not a valid cron expression")
        if data.get("filter") is not None:
            if isinstance(data["filter"], dict):
                keys_check(check, f"{path}.filter", data["filter"], CONDITION_KEYS)
            condition_check(check, f"{path}.filter", data["filter"])
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
    if kind not in NodeKind.values:
        if "kind" not in data:
            check.add(path, f"a node needs a kind ({', '.join(NodeKind.values)})")
        else:
            check.add(path, f"unknown node kind {kind!r}{suggestion(kind, NodeKind.values)}")
        return
    keys_check(check, path, data, NODE_KEYS[NodeKind(kind)])
    text_check(check, f"{path}.label", data.get("label", ""), max_length=200)
    if kind == NodeKind.ACTION:
        action_check(check, path, data)
    elif kind == NodeKind.DELAY:
        delay_check(check, path, data)
    elif kind == NodeKind.CONDITION:
        condition_check(check, path, data)
    children = data.get("children", [])
    if not isinstance(children, list):
        check.add(f"{path}.children", "expected a list")
        return
    nodes_check(check, f"{path}.children", children, depth=depth + 1)


def action_check(check: PackageCheck, path: str, data: dict[str, Any]) -> None:
    key = data.get("action")
    if not isinstance(key, str) or not key:
        check.add(path, "an action node needs an action type")
        return
    if key not in registry:
        check.add(path, f"unknown action type {key!r}{suggestion(key, registry.keys())}")
        return
    for problem in registry.get(key).config_errors(
        data.get("config", {}), field_names=set(check.field_types)
    ):
        check.add(f"{path}.config", problem)


def delay_check(check: PackageCheck, path: str, data: dict[str, Any]) -> None:
    if "seconds" in data and "field" in data:
        check.add(path, "a delay has either seconds or field, not both")
    elif "seconds" in data:
        if not is_integer(data["seconds"]) or data["seconds"] < 0:
            check.add(f"{path}.seconds", "expected a whole number of seconds, 0 or more")
        if "offset_seconds" in data:
            check.add(f"{path}.offset_seconds", "only a delay by field has an offset")
    elif "field" in data:
        name = data["field"]
        if not isinstance(name, str) or name not in check.field_types:
            check.add(f"{path}.field", f"the form has no field named {name!r}")
        elif check.field_types[name] not in MOMENT_TYPES:
            check.add(f"{path}.field", f"{name!r} is not a date or datetime field")
        if not is_integer(data.get("offset_seconds", 0)):
            check.add(f"{path}.offset_seconds", "expected a whole number of seconds")
    else:
        check.add(path, "a delay needs seconds (0 is now) or a date field")


def condition_check(check: PackageCheck, path: str, data: Any) -> None:
    """A condition node, or a scheduled tree's filter: `field` `op` `value`."""
    if not isinstance(data, dict):
        check.add(path, "expected a condition object")
        return
    name = data.get("field")
    if not isinstance(name, str) or not name:
        check.add(f"{path}.field", "required")
    elif name not in check.field_types:
        check.add(f"{path}.field", f"the form has no field named {name!r}")
    op = data.get("op")
    if op not in OPERATORS:
        check.add(f"{path}.op", f"unknown operator {op!r} (one of {', '.join(OPERATORS)})")
        return
    if op in UNARY_OPERATORS:
        if "value" in data:
            check.add(f"{path}.value", f"{op} takes no value")
    elif "value" not in data:
        check.add(f"{path}.value", f"required with {op}")
    elif isinstance(data["value"], (dict, list)) or data["value"] is None:
        check.add(f"{path}.value", "expected a string, a number or true/false")


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


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def suggestion(value: Any, candidates: Iterable[str]) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Import ----------------------------------------------------------------------------------------


def form_package_load(text: str) -> Any:
    """Parse the text of a package, or raise PackageInvalid saying where the JSON is broken."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackageInvalid(
            [f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except RecursionError:
        raise PackageInvalid(["not valid JSON: nested too deeply"]) from None


def form_package_import(*, data: Any, replace: bool = False) -> Form:
    """Create the form of a package, or with `replace` overwrite the form with its slug.

    Raises PackageInvalid, having changed nothing, when the package does not validate. Replacing
    keeps the form's records, updates its fields in place and replaces all of its trees.
    """
    problems = form_package_validate(data)
    if problems:
        raise PackageInvalid(problems)
    form_data = data["form"]
    slug = form_data["slug"]
    with transaction.atomic():
        form = Form.objects.select_for_update().filter(slug=slug).first()
        if form is None:
            form = Form(slug=slug)
        elif not replace:
            raise PackageInvalid(
                [f"form.slug: a form with slug {slug!r} already exists (use --replace)"]
            )
        form.name = form_data["name"]
        for name, default in FORM_DEFAULTS.items():
            setattr(form, name, json_copy(form_data.get(name, default)))
        form.save()
        fields_replace(form=form, specs=form_data.get("fields", []))
        form.trees.all().delete()
        for position, tree_data in enumerate(data.get("trees", [])):
            tree = EventTree.objects.create(
                form=form,
                position=position,
                name=tree_data["name"],
                event=tree_data.get("event", Event.SUBMITTED),
                mode=tree_data.get("mode", RunMode.SYNC),
                active=tree_data.get("active", True),
                max_attempts=tree_data.get("max_attempts", 3),
                cron=tree_data.get("cron", ""),
                filter=condition_config(tree_data["filter"]) if tree_data.get("filter") else None,
            )
            nodes_create(tree=tree, specs=tree_data.get("nodes", []))
        # The signal handlers forget the cached active trees inside this transaction; forget
        # them again once it commits, in case a request cached the old trees in between.
        form_id = form.pk
        transaction.on_commit(lambda: active_trees_forget(form_id))
    return form


def fields_replace(*, form: Form, specs: list[dict[str, Any]]) -> None:
    """Make the form's fields those of `specs`, in order; records keep their values."""
    existing = {item.name: item for item in form.fields.all()}
    wanted = {spec["name"] for spec in specs}
    form.fields.exclude(name__in=wanted).delete()
    for position, spec in enumerate(specs):
        item = existing.get(spec["name"]) or Field(form=form, name=spec["name"])
        item.type = spec["type"]
        item.position = position
        for name, default in FIELD_DEFAULTS.items():
            setattr(item, name, json_copy(spec.get(name, default)))
        item.save()


def nodes_create(*, tree: EventTree, specs: list[dict[str, Any]]) -> None:
    """Create the nodes of `specs` with one INSERT per level of the tree, not one per node."""
    level: list[tuple[Node | None, list[dict[str, Any]]]] = [(None, specs)]
    while level:
        created = [
            (Node(tree=tree, parent=parent, position=position, kind=spec["kind"],
                  action=spec.get("action", ""), label=spec.get("label", ""), config=node_config(spec)),
             spec.get("children", []))
            for parent, items in level
            for position, spec in enumerate(items)
        ]
        # The parents' ids come back from the INSERT (PostgreSQL, SQLite 3.35+) for the next level.
        Node.objects.bulk_create([node for node, _ in created])
        level = [(node, children) for node, children in created if children]


def node_config(spec: dict[str, Any]) -> dict[str, Any]:
    """What a node of a validated package stores in `Node.config`."""
    kind = spec["kind"]
    if kind == NodeKind.ACTION:
        return json_copy(spec.get("config", {}))
    if kind == NodeKind.DELAY:
        if "field" in spec:
            return {"field": spec["field"], "offset_seconds": spec.get("offset_seconds", 0)}
        return {"seconds": spec["seconds"]}
    if kind == NodeKind.CONDITION:
        return condition_config(spec)
    return {}


def condition_config(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: json_copy(spec[key]) for key in CONDITION_KEYS if key in spec}


def json_copy(value: Any) -> Any:
    # Lists and objects are copied, so that the stored values never share state with the input.
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value))
    return value


def node_problems(*, node: Node, field_types: dict[str, str]) -> list[str]:
    """What is wrong with one stored node (not its children), for the editor's marks."""
    check = PackageCheck(field_types=field_types)
    node_check(check, "node", node_attributes(node), depth=0)
    return [problem.removeprefix("node: ").removeprefix("node.") for problem in check.problems]
