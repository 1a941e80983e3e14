"""The shared caches of automations/cache.py: what the engine keeps there stays there."""

from __future__ import annotations

import time

from automations.cache import FileCache


def test_a_stream_of_short_lived_marks_does_not_evict_what_is_meant_to_stay(tmp_path):
    # Fails with Django's FileBasedCache at its default 300 entries: it deleted a third of the
    # entries at random once full, a form's or a version's among them.
    cache = FileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 20000}})
    cache.set("form", {"slug": "membership"}, timeout=None)
    for number in range(600):  # the forget marks of 300 blocks
        cache.set(f"mark-{number}", "forgotten", timeout=10)

    assert cache.get("form") == {"slug": "membership"}


def test_a_cull_removes_expired_entries_first_and_random_ones_only_over_the_limit(tmp_path):
    cache = FileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 5, "CULL_FREQUENCY": 2, "CULL_SECONDS": 0}})
    cache.set("form", "kept", timeout=None)
    for number in range(3):
        cache.set(f"mark-{number}", "forgotten", timeout=1)
    time.sleep(1.1)

    cache.set("version", "kept too", timeout=None)  # culls: the three expired marks go

    assert (cache.get("form"), cache.get("version")) == ("kept", "kept too")
    assert len(cache._list_cache_files()) == 2
