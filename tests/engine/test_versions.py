"""Loading the published version for a submit (DESIGN §3.10): cached forever by its id, so that
the queries of a submit do not depend on the size of the tree."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventtree.engine.versions import BUILT_VERSIONS, version_cache_key, version_nodes
from eventtree.services.records import record_submit
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db


def submit_queries(slug: str, size: int, capture) -> tuple[list[str], list[str]]:
    """The queries of a first (cold caches) and a second submit of a form whose tree has `size`
    nodes: a Background holding `size - 1` log actions."""
    form = form_create(slug, fields=[{"name": "name"}])
    tree_create(form, [{"kind": "background", "children": [action("log", message=f"{i}") for i in range(size - 1)]}])
    found = []
    for name in ("cold", "warm"):
        with CaptureQueriesContext(connection) as queries, capture(execute=False):
            record_submit(form=form, values={"name": name})
        found.append([query["sql"] for query in queries.captured_queries])
    return found[0], found[1]


def test_a_submit_reads_the_published_version_with_queries_that_do_not_grow_with_the_tree(
    django_capture_on_commit_callbacks
):
    small = submit_queries("small", 10, django_capture_on_commit_callbacks)
    large = submit_queries("large", 300, django_capture_on_commit_callbacks)

    assert [len(queries) for queries in small] == [len(queries) for queries in large]
    cold, warm = large
    assert any("eventtree_treeversion" in sql for sql in cold)
    # Warm, a submit reads no tree, no node and no version: they come from the cache.
    read = " ".join(sql for sql in warm if sql.startswith("SELECT"))
    assert not any(table in read for table in ("eventtree_eventtree", "eventtree_node", "eventtree_treeversion"))


def test_a_version_is_read_once_then_from_the_cache_and_from_the_database_when_the_cache_is_down(
    monkeypatch, django_assert_num_queries
):
    form = form_create("f", fields=[{"name": "name"}])
    tree = tree_create(form, [action("log", message="x"), {"kind": "background", "children": [action("log", message="y")]}])
    with django_assert_num_queries(1):
        roots = version_nodes(tree.published_id)
    with django_assert_num_queries(0):
        assert [node.kind for node in version_nodes(tree.published_id)] == [node.kind for node in roots]
    assert cache.get(version_cache_key(tree.published_id)) is not None

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    with django_assert_num_queries(0):  # this process built it already
        version_nodes(tree.published_id)
    BUILT_VERSIONS.clear()  # another process
    with django_assert_num_queries(1):
        loaded = version_nodes(tree.published_id)
    assert [child.config for child in loaded[1].child_nodes] == [{"message": "y"}]
