from __future__ import annotations

import re
from collections.abc import Iterator

from django import forms

from eventtree.actions.base import BaseAction

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class AlreadyRegistered(Exception):
    pass


class UnknownAction(LookupError):
    pass


class ActionRegistry:
    """The action types known to the engine, by key."""

    def __init__(self) -> None:
        self._actions: dict[str, BaseAction] = {}

    def register(self, action_class: type[BaseAction]) -> type[BaseAction]:
        if not (isinstance(action_class, type) and issubclass(action_class, BaseAction)):
            raise TypeError(f"{action_class!r} is not a subclass of BaseAction")
        key = getattr(action_class, "key", None)
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ValueError(f"{action_class.__name__}.key must be a lower-case identifier")
        if not getattr(action_class, "label", None):
            raise ValueError(f"{action_class.__name__} needs a label")
        config_form = getattr(action_class, "config_form", None)
        if not (isinstance(config_form, type) and issubclass(config_form, forms.BaseForm)):
            raise ValueError(f"{action_class.__name__}.config_form must be a Django form class")
        if action_class.run is BaseAction.run:
            raise ValueError(f"{action_class.__name__} must define run()")
        if key in self._actions:
            raise AlreadyRegistered(f"An action with key {key!r} is already registered")
        self._actions[key] = action_class()
        return action_class

    def get(self, key: str) -> BaseAction:
        try:
            return self._actions[key]
        except KeyError:
            raise UnknownAction(f"Unknown action type {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._actions

    def __iter__(self) -> Iterator[BaseAction]:
        return iter(sorted(self._actions.values(), key=lambda action: action.label))

    def keys(self) -> list[str]:
        return sorted(self._actions)


registry = ActionRegistry()
