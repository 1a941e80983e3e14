"""What a submit costs, next to a plain Django form saving the same fields (bench/baseline/).

In one process, on a throw-away SQLite database (the embedded default; `--database-url` for
another), with Django's test client, in rounds: the baseline (a CreateView + ModelForm), a form
with no tree, and the reference tree of DESIGN §3.2 (2 sync set_field, a Background of 3
actions), one POST each per round. Prints the environment, the median time of each, the ratios
and the statements each ran (a warm submit: the caches filled by the first rounds).

    .venv/bin/python bench/submit.py [--rounds 300]

Nothing outside the temporary folder is touched; no worker runs (the Background's wake-up is
queued and left).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.environment import environment  # noqa: E402

REFERENCE = {
    "form": {"slug": "membership", "name": "Membership application", "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "required": True},
        *({"name": f"field_{letter}", "type": "text", "internal": True} for letter in "abcd")]},
    "trees": [{"name": "On submit", "event": "submitted", "mode": "sync", "active": True, "nodes": [
        {"kind": "action", "action": "set_field", "config": {"field": "field_a", "value": "A:{{ record.name }}"}},
        {"kind": "background", "label": "Slow part", "children": [
            {"kind": "action", "action": "set_field", "config": {"field": "field_b", "value": "B"}},
            {"kind": "action", "action": "set_field", "config": {"field": "field_c", "value": "C"}},
            {"kind": "action", "action": "send_email", "config": {
                "to": "{{ record.email }}", "subject": "Welcome", "body": "Hello {{ record.name }}"}}]},
        {"kind": "action", "action": "set_field", "config": {"field": "field_d", "value": "D"}}]}],
}


def setup(database_url: str, workdir: Path) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": database_url,
        "EVENTTREE_DATA_DIR": str(workdir),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_LOG_LEVEL": "WARNING",
    })
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from eventtree.services.packages import form_package_import

    form_package_import(data=REFERENCE)
    plain = {**REFERENCE, "form": {**REFERENCE["form"], "slug": "plain", "name": "Plain"}, "trees": []}
    form_package_import(data=plain)
    # A form just saved is read from the database for FORGOTTEN_SECONDS (engine/caching.py); a
    # live form was saved long before its visitors came.
    from eventtree.engine.caching import FORGOTTEN_SECONDS

    time.sleep(FORGOTTEN_SECONDS + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as folder:
        workdir = Path(folder)
        setup(options.database_url or f"sqlite:///{workdir / 'db.sqlite3'}", workdir)
        measure(options.rounds)


def measure(rounds: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    targets = {
        "baseline: CreateView + ModelForm": "/bench/entries/",
        "form without tree": "/f/plain/",
        "reference tree": "/f/membership/",
        "reference tree's statements by hand": "/bench/by-hand/",
    }
    times: dict[str, list[float]] = {name: [] for name in targets}
    statements: dict[str, list[str]] = {}
    for round_number in range(rounds):
        for name, url in targets.items():
            data = {"name": f"Ada {round_number}", "email": "ada@example.com"}
            if round_number == rounds - 1:
                with CaptureQueriesContext(connection) as queries:
                    response = client.post(url, data)
                statements[name] = [query["sql"] for query in queries.captured_queries]
            else:
                started = time.perf_counter()
                response = client.post(url, data)
                times[name].append(time.perf_counter() - started)
            assert response.status_code == 302, (url, response.status_code)
    print(environment())
    print(f"rounds: {rounds} (one POST of each per round, in turn; medians of all but the last)")
    baseline = statistics.median(times["baseline: CreateView + ModelForm"])
    no_tree = statistics.median(times["form without tree"])
    print(f"{'submit':<40}{'median ms':>10}  {'ratio':<22}{'statements':>10}")
    for name in targets:
        median = statistics.median(times[name])
        against = "no tree" if name.startswith("reference tree") else "the baseline"
        ratio = median / (no_tree if name.startswith("reference tree") else baseline)
        print(f"{name:<40}{median * 1000:>10.2f}  {f'{ratio:.2f}x {against}':<22}{len(statements[name]):>10}")
    print(f"of the submit without tree, its form's definition read from the shared cache and its Django "
          f"form built and validated: {form_building(rounds) * 1000:.2f} ms (median)")
    for name, sql in statements.items():
        print(f"\n{name}: the statements of a warm submit")
        for line in sql:
            print(f"  {line[:110]}")


def form_building(rounds: int) -> float:
    """What a plain view does not do: read the form's definition (form, fields, its trees) from
    the shared cache and build its Django form from it; median seconds."""
    from django.http import QueryDict

    from eventtree import selectors
    from eventtree.engine.events import runnable_trees
    from eventtree.inputs.records import RecordForm

    data = QueryDict(mutable=True)
    data.update({"name": "Ada", "email": "ada@example.com"})
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        form = selectors.form_public(slug="plain")
        record_form = RecordForm(data, fields=selectors.form_public_fields(form=form))
        assert record_form.is_valid() and not runnable_trees(form.pk, "submitted")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
