"""What the registries of action types and node kinds share: classes registered once by key,
refused when malformed or registered twice (Wagtail's registries, the admin's
`AlreadyRegistered`). A leaf: it imports nothing of the project."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar, Generic, TypeVar

T = TypeVar("T")


class AlreadyRegistered(Exception):
    pass


class Registry(Generic[T]):
    """One instance of each registered subclass of `base`, by its `key`, in registration order.

    Subclasses set `base`, `key_pattern`, `noun` (for messages) and `unknown` (the LookupError
    of a missing key), and check what else a class must declare in `class_check`.
    """

    base: ClassVar[type]
    key_pattern: ClassVar[re.Pattern[str]]
    noun: ClassVar[str]
    unknown: ClassVar[type[LookupError]]

    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def register(self, item_class: type[T]) -> type[T]:
        if not (isinstance(item_class, type) and issubclass(item_class, self.base)):
            raise TypeError(f"{item_class!r} is not a subclass of {self.base.__name__}")
        key = getattr(item_class, "key", None)
        if not isinstance(key, str) or not self.key_pattern.match(key):
            raise ValueError(f"{item_class.__name__}.key must be a lower-case identifier ({self.key_pattern.pattern})")
        if not getattr(item_class, "label", None):
            raise ValueError(f"{item_class.__name__} needs a label")
        self.class_check(item_class)
        if key in self._items:
            raise AlreadyRegistered(f"{self.noun.capitalize()} {key!r} is already registered")
        self._items[str(key)] = item_class()
        return item_class

    def class_check(self, item_class: type[T]) -> None:
        """Raise ValueError for anything else a registered class must declare."""

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise self.unknown(f"Unknown {self.noun} {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def keys(self) -> list[str]:
        return list(self._items)
