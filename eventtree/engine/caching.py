"""Reading through the shared cache: what the engine keeps there is always also in the database,
so a cache that is down is only a miss, logged, and the request or task goes on.

Forgetting leaves a short-lived mark instead of deleting: a reader that read the database just
before the change committed, and stores what it read just after, would otherwise put the old
value back for as long as an entry lives. A reader that finds the mark reads the database and
stores nothing; it stores only where nothing is (`add`), so it never overwrites a mark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")

FORGOTTEN = "eventtree:forgotten"
# Longer than any read of the database between a reader's miss and its store.
FORGOTTEN_SECONDS = 10


def cache_read_through(key: str, fill: Callable[[], T], *, timeout: float | None, what: str) -> T:
    """The value cached under `key`, or `fill()`, stored there for `timeout` seconds (None: for
    ever) unless `key` was just forgotten. `what` names the value in the log."""
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable; reading %s from the database", what, exc_info=True)
        return fill()
    if value is not None and not forgotten(value):
        return value
    fresh = fill()
    if value is None:
        cache_add({key: fresh}, timeout=timeout, what=what)
    return fresh


def forgotten(value: Any) -> bool:
    return isinstance(value, str) and value == FORGOTTEN


def cache_add(values: dict[str, Any], *, timeout: float | None, what: str) -> None:
    """Store each value whose key holds nothing (neither a value nor a forget mark)."""
    try:
        for key, value in values.items():
            cache.add(key, value, timeout=timeout)
    except Exception:
        logger.warning("Cache unavailable; %s not cached", what, exc_info=True)


def cache_forget(keys: list[str], *, what: str) -> bool:
    """Forget `keys` (call once the change has committed); False, logged as an error, when the
    cache is down (the entries stay until their timeout)."""
    try:
        cache.set_many(dict.fromkeys(keys, FORGOTTEN), timeout=FORGOTTEN_SECONDS)
    except Exception:
        logger.error("Cache unavailable: %s stays cached until its timeout", what, exc_info=True)
        return False
    return True
