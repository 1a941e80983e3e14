from __future__ import annotations

import re
from collections.abc import Iterator

from django import forms

from eventtree.actions.base import BaseAction
from eventtree.registries import AlreadyRegistered, Registry

__all__ = ["ActionRegistry", "AlreadyRegistered", "UnknownAction", "registry"]


class UnknownAction(LookupError):
    pass


class ActionRegistry(Registry[BaseAction]):
    """The action types known to the engine, by key."""

    base = BaseAction
    key_pattern = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
    noun = "action type"
    unknown = UnknownAction

    def class_check(self, action_class: type[BaseAction]) -> None:
        config_form = getattr(action_class, "config_form", None)
        if not (isinstance(config_form, type) and issubclass(config_form, forms.BaseForm)):
            raise ValueError(f"{action_class.__name__}.config_form must be a Django form class")
        if action_class.run is BaseAction.run:
            raise ValueError(f"{action_class.__name__} must define run()")

    def __iter__(self) -> Iterator[BaseAction]:
        # The editor's menu lists action types by label.
        return iter(sorted(super().__iter__(), key=lambda action: action.label))

    def keys(self) -> list[str]:
        return sorted(super().keys())


registry = ActionRegistry()
