"""How fast and how big is the tree editor? A benchmark in-process, on a throw-away database.

It builds a form with a 10-node tree and one with a 300-node tree (the same shape repeated:
Background > Condition > Set field), both published and then edited once so that the draft
differs from the live version (the publish bar and the change marks have work to do), and
measures with Django's test client as a logged-in superuser:

- the tree page (GET, the whole page): median time, bytes and queries, 300 nodes against the
  10-node page measured in the same run, and the ratio;
- each kind of node edit over htmx (a POST with `HX-Request`): save, move up / down, indent /
  outdent, drag-and-drop (parent + index), add, delete, open the edit form, open the add menu:
  median time, bytes and queries for 10 and 300 nodes.

Run from the repository root: `.venv/bin/python bench/editor.py [--repeat N] [--profile]`.
Everything lives in a temporary folder (database, cache); the default data folder and the test
database are not touched. Never part of the test suite: tests guard counts and bytes, not times.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HTMX = {"HTTP_HX_REQUEST": "true"}
EDITOR_PATHS = ["templates/eventtree/builder", "eventtree/views/builder", "eventtree/selectors.py",
                "eventtree/services/trees.py", "static/eventtree"]


def environment_set(workdir: Path) -> None:
    """Test settings (a fixed key, `testserver` allowed, DEBUG off, plain static storage) on a
    database and a file cache of our own in `workdir`."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "automations.test_settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["EVENTTREE_DATA_DIR"] = str(workdir)
    os.environ["EVENTTREE_TEST_CACHE"] = str(workdir / "cache")
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DJANGO_DEBUG", None)


def trees_build() -> dict[int, Any]:
    """Two forms, each with one published tree of 10 and of 300 nodes, whose draft then differs
    from the live version by one changed node."""
    from eventtree.models import Node
    from tests.factories import form_create, set_field, tree_create

    trees = {}
    for size in (10, 300):
        form = form_create(f"bench-{size}", fields=[{"name": "name"}, {"name": "out", "internal": True}])
        groups = [{"kind": "background", "children": [
            {"kind": "condition", "field": "name", "op": "eq", "value": str(i),
             "children": [set_field("out", f"value {i}")]}]} for i in range(size // 3)]
        tree = tree_create(form, [*groups, *[set_field("out", "last")] * (size % 3)])
        assert tree.nodes.count() == size, tree.nodes.count()
        first = Node.objects.filter(tree=tree, kind="action").order_by("id").first()
        Node.objects.filter(pk=first.pk).update(config={**first.config, "value": "changed"})
        trees[size] = tree
    return trees


def measure(call: Callable[[], Any], repeat: int, undo: Callable[[], Any] | None = None,
            setup: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Median and spread of `repeat` calls (after one warm-up), with the last response's size and
    the query count of one more call. `setup` and `undo`, untimed, run before and after each call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def once() -> tuple[float, Any]:
        if setup:
            setup()
        start = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code in (200, 302), (response.status_code, response.content[:500])
        assert b"alert-error" not in response.content, response.content[:1000]  # a refusal measures nothing
        assert response.headers.get("HX-Retarget") != "#tree", "the page's stamp was stale: a whole tree"
        if undo:
            undo()
        return elapsed, response

    once()
    times = []
    for _ in range(repeat):
        elapsed, response = once()
        times.append(elapsed)
    if setup:
        setup()
    with CaptureQueriesContext(connection) as queries:
        call()
    count = len(queries)  # before the next request, which empties the query log
    if undo:
        undo()
    elif repeat % 2 and not setup:  # an even number of calls in all: the edits that alternate leave the tree as it was
        call()
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "bytes": len(response.content), "queries": count, "status": response.status_code}


EDITS = ["save (edit form posted)", "move up / down", "indent / outdent", "drag-and-drop (parent, index)",
         "add after a node", "delete a node", "open the edit form", "open the add menu"]


STAMP = re.compile(r'id="draft-stamp" data-stamp="(\w+)"')


class EditorPage:
    """The editor's page of `tree` as a browser holds it: each request sends the stamp of the
    draft the page shows (X-Draft-Stamp, as editor.js does) and keeps the one each answer brings,
    so that answers are the changes, as in the browser. (Code without stamps: no header.)"""

    def __init__(self, client: Any, tree: Any) -> None:
        self.client, self.tree, self.stamp = client, tree, None
        self.reload()

    def reload(self) -> None:
        found = STAMP.search(self.client.get(f"/builder/trees/{self.tree.pk}/").content.decode())
        self.stamp = found.group(1) if found else None

    def send(self, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        headers = {**HTMX, **({"HTTP_X_DRAFT_STAMP": self.stamp} if self.stamp else {})}
        response = getattr(self.client, method)(url, data or {}, **headers)
        found = STAMP.search(response.content.decode())
        self.stamp = found.group(1) if found else self.stamp
        return response


def edits(client: Any, tree: Any) -> dict[str, tuple[Callable[[], Any], Callable[[], Any] | None, Callable[[], Any] | None]]:
    """Per kind of node edit over htmx: the call, what undoes it and what prepares it (untimed);
    the edits without an undo alternate (save, up and down, indent and outdent, a drop at index
    2 then 1), and run an even number of times."""
    from eventtree.models import Node

    page = EditorPage(client, tree)
    target = Node.objects.filter(tree=tree, kind="action", parent__isnull=False).order_by("id")[2]
    middle = Node.objects.filter(tree=tree, parent=None).order_by("position")[1]
    flips = {"save": False, "drag": False}

    def save():
        flips["save"] = not flips["save"]
        return page.send("post", f"/builder/nodes/{target.pk}/",
                         {"label": "x" if flips["save"] else "", "config-field": "out", "config-value": "v"})

    def shift(first: str, second: str) -> Callable[[], Any]:
        turn = {"first": False}

        def call():
            turn["first"] = not turn["first"]
            return page.send("post", f"/builder/nodes/{middle.pk}/move/",
                             {"direction": first if turn["first"] else second})
        return call

    def drag():
        flips["drag"] = not flips["drag"]
        return page.send("post", f"/builder/nodes/{middle.pk}/move/", {"parent": "", "index": 2 if flips["drag"] else 1})

    def add():
        return page.send("post", f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "action:log", "after": middle.pk})

    def newest_delete():
        Node.objects.filter(tree=tree).order_by("-id").first().delete()
        positions = Node.objects.filter(tree=tree, parent=None).order_by("position", "id")
        Node.objects.bulk_update([Node(pk=pk, position=i) for i, pk in enumerate(positions.values_list("pk", flat=True))], ["position"])
        page.reload()

    spare = {}

    def delete():
        return page.send("post", f"/builder/nodes/{spare['node'].pk}/delete/")

    def respare():
        spare["node"] = Node.objects.create(tree=tree, parent=None, position=10_000, kind="action", action="log",
                                            config={"message": "x"})
        page.reload()

    return dict(zip(EDITS, [
        (save, None, None),
        (shift("up", "down"), None, None),
        (shift("indent", "outdent"), None, None),
        (drag, None, None),
        (add, newest_delete, None),
        (delete, None, respare),
        (lambda: page.send("get", f"/builder/nodes/{target.pk}/"), None, None),
        (lambda: page.send("get", f"/builder/trees/{tree.pk}/nodes/add/?after={middle.pk}"), None, None),
    ]))


def code_version() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *EDITOR_PATHS)
    return f"git {commit}{' with local changes to the editor' if changed else ''}" if commit else "unknown"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run(options: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("bench", password="x")
    client = Client()
    client.force_login(admin)
    trees = trees_build()

    print(f"load average before the tree page: {load()}")
    page = {size: measure(lambda tree=tree: client.get(f"/builder/trees/{tree.pk}/"), options.repeat)
            for size, tree in trees.items()}
    print()
    print("tree page (GET, whole page)     median ms    min ms    max ms      bytes  queries")
    for size, result in page.items():
        print(f"  {size:>3} nodes                    {result['median']:9.1f} {result['min']:9.1f} "
              f"{result['max']:9.1f} {result['bytes']:10,d} {result['queries']:8d}")
    print(f"  300 vs 10 nodes: time {page[300]['median'] / page[10]['median']:.1f}x, "
          f"bytes {page[300]['bytes'] / page[10]['bytes']:.1f}x; "
          f"{(page[300]['bytes'] - page[10]['bytes']) / 290:,.0f} bytes per node")

    print(f"\nload average before the node edits: {load()}")
    print()
    print("node edit over htmx              nodes  median ms    min ms    max ms      bytes  queries   300/10")
    results = {}
    for size, tree in trees.items():
        for name, (call, undo, setup) in edits(client, tree).items():
            results[name, size] = measure(call, options.repeat, undo, setup)
    for name in EDITS:
        for size in trees:
            result = results[name, size]
            ratio = f"{result['median'] / results[name, 10]['median']:8.1f}x" if size == 300 else ""
            print(f"  {name:<31} {size:>5} {result['median']:9.1f} {result['min']:9.1f} {result['max']:9.1f} "
                  f"{result['bytes']:10,d} {result['queries']:8d} {ratio}")
    print(f"\nload average at the end: {load()}")

    if options.profile:
        import cProfile
        import pstats

        tree = trees[300]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            client.get(f"/builder/trees/{tree.pk}/")
        profiler.disable()
        print("\nprofile of 3 tree pages of 300 nodes (cumulative):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per figure (default 15)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the 300-node page")
    options = parser.parse_args()
    argv = " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    print("Tree editor benchmark (eventtree)")
    print(f"command:  .venv/bin/python bench/editor.py{' ' + argv if argv else ''}")
    print(f"date:     {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
    import django

    print(f"machine:  {platform.system()} {platform.release()} {platform.machine()}, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, Django {django.get_version()}; load average at start {load()}")
    print(f"code:     {code_version()}")
    print("settings: SQLite in a temporary folder, DEBUG off, in-process test client, superuser; "
          f"{options.repeat} timed calls per figure after one warm-up")
    with tempfile.TemporaryDirectory(prefix="eventtree-bench-editor-") as workdir:
        environment_set(Path(workdir))
        run(options)


if __name__ == "__main__":
    main()
