"""Reading through the shared cache: what the engine keeps there is always also in the database,
so a cache that is down is only a miss, logged, and the request or task goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cache_read_through(key: str, fill: Callable[[], T], *, timeout: float | None, what: str) -> T:
    """The value cached under `key`, or `fill()` stored there for `timeout` seconds (None: for
    ever). `what` names the value in the log when the cache is down."""
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable; reading %s from the database", what, exc_info=True)
        return fill()
    if value is None:
        value = fill()
        try:
            cache.set(key, value, timeout=timeout)
        except Exception:
            logger.warning("Cache unavailable; %s not cached", what, exc_info=True)
    return value


def cache_forget(keys: list[str], *, what: str) -> bool:
    """Delete `keys`; False, logged as an error, when the cache is down (the entries stay until
    their timeout)."""
    try:
        cache.delete_many(keys)
    except Exception:
        logger.error("Cache unavailable: %s stays cached until its timeout", what, exc_info=True)
        return False
    return True

