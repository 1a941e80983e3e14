"""Reading through the shared cache (eventtree/engine/caching.py)."""

from __future__ import annotations

from eventtree.engine.caching import cache_forget, cache_read_through

KEY = "eventtree:test:value"


def test_a_reader_that_read_before_a_change_committed_does_not_put_the_old_value_back():
    def read_just_before_the_change():
        cache_forget([KEY], what="the value")  # the writer commits while the reader holds "old"
        return "old"

    assert cache_read_through(KEY, read_just_before_the_change, timeout=60, what="the value") == "old"

    assert cache_read_through(KEY, lambda: "new", timeout=60, what="the value") == "new"


def test_a_value_is_read_once_then_from_the_cache_until_it_is_forgotten():
    reads = []

    def read():
        reads.append(1)
        return len(reads)

    assert [cache_read_through(KEY, read, timeout=60, what="v") for _ in range(3)] == [1, 1, 1]
    cache_forget([KEY], what="v")
    assert cache_read_through(KEY, read, timeout=60, what="v") == 2
