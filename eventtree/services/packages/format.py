"""The shape of a form package (DESIGN §5): its keys, limits and the defaults left unwritten."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventtree.kinds import kind_registry
from eventtree.models import Field, Form

MAX_DEPTH = 50
MAX_NODES = 2000
MAX_ATTEMPTS_RANGE = range(1, 21)

PACKAGE_KEYS = ("form", "trees")
FORM_KEYS = (
    "slug", "name", "description", "success_message", "login_required", "listed", "completion_flags",
    "alert_emails", "fields",
)
FIELD_KEYS = ("name", "type", "label", "required", "internal", "choices", "default", "help_text")
TREE_KEYS = ("name", "event", "mode", "active", "max_attempts", "cron", "filter", "nodes")


def model_defaults(model: type, names: Iterable[str]) -> dict[str, Any]:
    return {name: model._meta.get_field(name).get_default() for name in names}


# Attributes written to a package only when they differ from these defaults.
FORM_DEFAULTS = model_defaults(
    Form, ("description", "success_message", "login_required", "listed", "completion_flags", "alert_emails")
)
FIELD_DEFAULTS = model_defaults(
    Field, ("label", "required", "internal", "choices", "default", "help_text")
)


def node_keys(kind: str) -> tuple[str, ...]:
    """The keys a package node of a registered `kind` may have."""
    return ("kind", "label", *kind_registry.get(kind).package_keys, "children")
