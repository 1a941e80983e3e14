"""How fast a CSV import creates records, and how much memory it takes, next to a plain
`bulk_create` of the same rows in one process.

A throw-away deployment set up by the README's commands (tests/integration/deployment.py): the web
server (gunicorn) and one `qcluster` of `--workers` workers. For each size (`--rows`, default
10,000 and 100,000), a CSV file of that many rows (five text, email, number and choice columns)
is made, then:

- product: staff upload it to the builder over HTTP (the web process reads it as a stream into
  chunks of `EVENTTREE_IMPORT_CHUNK_ROWS`), the cluster's workers run the chunks; the rate is the
  rows over the time from the first chunk's start to the import's end, taken from the chunks'
  own times. Memory: the peak resident size (VmHWM, from /proc) of the gunicorn worker before and
  after the upload, and of every process of the cluster before the import and after it.
- baseline: one `manage.py shell` process reads the whole file with the csv module and saves the
  rows with `Record.objects.bulk_create` (batches of 1,000, one transaction), without
  validation; and the same after validating each row with the public form's RecordForm (what a
  chunk does before its INSERT). Its peak resident size after Django's start and at the end.

The form has no `imported` tree: a record costs its validation and its share of one INSERT a
chunk. `--tree` adds one, a set_field, to show what firing a tree for every record costs.

    .venv/bin/python bench/imports.py [--rows 10000 100000] [--workers 2] [--tree] [--broker redis]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deployments import bench_deployment  # noqa: E402
from bench.environment import environment  # noqa: E402
from tests.integration.deployment import Deployment  # noqa: E402
from tests.workers import process_ancestors, process_group_stop  # noqa: E402

FIELDS = [
    {"name": "name", "type": "text", "required": True},
    {"name": "email", "type": "email", "required": True},
    {"name": "visits", "type": "number"},
    {"name": "plan", "type": "choice", "choices": ["Free", "Pro", "Team"]},
    {"name": "note", "type": "textarea"},
    {"name": "source", "type": "text", "internal": True},
]


def package(tree: bool) -> dict:
    trees = [{"name": "On import", "event": "imported", "nodes": [
        {"kind": "action", "action": "set_field", "config": {"field": "source", "value": "csv"}}]}]
    return {"form": {"slug": "people", "name": "People", "fields": FIELDS}, "trees": trees if tree else []}


def csv_write(path: Path, rows: int) -> None:
    plans = ("Free", "Pro", "Team")
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("name,email,visits,plan,note\r\n")
        for n in range(rows):
            file.write(f"Person {n},person{n}@example.com,{n % 97},{plans[n % 3]},Imported from the old system\r\n")


def vm_hwm_kb(pid: int) -> int:
    """The peak resident size of a live process (kB), 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))


def descendants(root: int) -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if root in process_ancestors(pid):
            pids.append(pid)
    return pids


class Staff:
    """A staff member's browser, over HTTP: the admin's login, then the builder's upload."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self, path: str) -> str:
        with self.opener.open(self.deployment.url(path), timeout=60) as page:
            return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)

    def login(self, username: str, password: str) -> None:
        token = self.csrf("/admin/login/")
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password,
                                       "next": "/builder/"}).encode()
        with self.opener.open(urllib.request.Request(self.deployment.url("/admin/login/"), data=data), timeout=60):
            pass

    def upload(self, slug: str, path: Path) -> str:
        """Post the file from the records page; returns the import page's path."""
        token = self.csrf(f"/builder/forms/{slug}/records/")
        boundary = uuid.uuid4().hex
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: text/csv\r\n\r\n".encode(),
            path.read_bytes(), f"\r\n--{boundary}--\r\n".encode()])
        request = urllib.request.Request(self.deployment.url(f"/builder/forms/{slug}/imports/"), data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Referer": self.deployment.url(f"/builder/forms/{slug}/records/")})
        with self.opener.open(request, timeout=600) as response:
            return urllib.parse.urlparse(response.url).path


BASELINE = """
import csv, json, re, time
from pathlib import Path
from django.db import transaction
from eventtree.inputs.records import RecordForm
from eventtree.models import Form, Record

def hwm():
    return int(re.search(r"^VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))

started_kb = hwm()
form = Form.objects.get(slug="people")
fields = {{field.name: field for field in form.fields.all()}}
begin = time.perf_counter()
with open({path!r}, encoding="utf-8", newline="") as file:
    reader = csv.reader(file)
    header = next(reader)
    rows = list(reader)
values = []
for cells in rows:
    row = dict(zip(header, cells))
    if {validate!r}:
        record_form = RecordForm(row, fields=[fields[name] for name in header])
        assert record_form.is_valid(), record_form.errors
        row = record_form.record_values()
    values.append(row)
with transaction.atomic():
    Record.objects.bulk_create([Record(form=form, values=row) for row in values], batch_size=1000)
print(json.dumps({{"seconds": time.perf_counter() - begin, "started_kb": started_kb, "peak_kb": hwm()}}))
"""


def baseline(deployment: Deployment, path: Path, *, validate: bool) -> dict:
    out = deployment.manage("shell", "-c", BASELINE.format(path=str(path), validate=validate), timeout=1800)
    return json.loads(out.strip().splitlines()[-1])


def product(deployment: Deployment, staff: Staff, path: Path, rows: int) -> dict:
    web = [pid for pid in descendants(deployment.web_pid) if pid != deployment.web_pid]
    cluster = deployment.start_cluster(timers=False)
    try:
        time.sleep(5)  # the cluster's processes are up and idle
        cluster_idle_kb = max(vm_hwm_kb(pid) for pid in descendants(cluster.pid))
        web_before_kb = max(vm_hwm_kb(pid) for pid in web)
        begin = time.perf_counter()
        page = staff.upload("people", path)
        upload_seconds = time.perf_counter() - begin
        import_id = int(page.rstrip("/").rsplit("/", 1)[1])
        web_after_kb = max(vm_hwm_kb(pid) for pid in web)
        deadline = time.monotonic() + 3600
        while deployment.sql("SELECT state FROM eventtree_import WHERE id = %s", import_id)[0][0] != "done":
            if time.monotonic() > deadline:
                raise RuntimeError(f"not finished:\n{deployment.logs()}")
            time.sleep(0.5)
        cluster_kb = max(vm_hwm_kb(pid) for pid in descendants(cluster.pid))
    finally:
        process_group_stop(cluster)
    first, last = deployment.sql("SELECT MIN(started_at), MAX(finished_at) FROM eventtree_importchunk "
                                 "WHERE bulk_import_id = %s", import_id)[0]
    created = deployment.sql("SELECT created FROM eventtree_import WHERE id = %s", import_id)[0][0]
    assert created == rows, (created, rows)
    return {"seconds": (moment(last) - moment(first)).total_seconds(), "upload_seconds": upload_seconds,
            "web_before_kb": web_before_kb, "web_after_kb": web_after_kb,
            "cluster_idle_kb": cluster_idle_kb, "cluster_kb": cluster_kb}


def moment(value):
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tree", action="store_true", help="an `imported` tree of one set_field")
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    parser.add_argument("--at-once", type=int, default=None, help="EVENTTREE_IMPORT_CHUNKS_AT_ONCE (default: the product's)")
    options = parser.parse_args()
    env = {"EVENTTREE_WORKERS": str(options.workers)}
    if options.at_once:
        env["EVENTTREE_IMPORT_CHUNKS_AT_ONCE"] = str(options.at_once)
    results = []
    with bench_deployment(broker=options.broker, package=package(options.tree),
                          env=env) as deployment:
        deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                          "get_user_model().objects.create_superuser('bench', password='bench-pw')")
        deployment.start_web()
        deployment.web_pid = next(process.pid for name, process, _ in deployment.processes if name == "web")
        staff = Staff(deployment)
        staff.login("bench", "bench-pw")
        for rows in options.rows:
            path = deployment.workdir / f"people-{rows}.csv"
            csv_write(path, rows)
            results.append((rows, path.stat().st_size, product(deployment, staff, path, rows),
                            baseline(deployment, path, validate=False), baseline(deployment, path, validate=True)))
    print(environment())
    print(f"set-up: {'PostgreSQL + Redis' if options.broker == 'redis' else 'SQLite + ORM broker'}, one qcluster "
          f"of {options.workers} workers, gunicorn as the README runs it; chunks of 100 rows; "
          f"{'an imported tree of one set_field' if options.tree else 'no imported tree'}")
    for rows, size, imported, plain, validated in results:
        print(f"\n{rows:,} rows ({size / 1024 / 1024:.1f} MB of CSV)")
        print(f"{'':<52}{'records/s':>10}{'seconds':>9}  {'peak memory (VmHWM)':<40}")
        print(f"{'import: workers run the chunks':<52}{rows / imported['seconds']:>10.0f}{imported['seconds']:>9.1f}"
              f"  cluster's largest process {mb(imported['cluster_idle_kb'])} idle → {mb(imported['cluster_kb'])}")
        print(f"{'import: the web process reads the upload into chunks':<52}{rows / imported['upload_seconds']:>10.0f}"
              f"{imported['upload_seconds']:>9.1f}  gunicorn worker {mb(imported['web_before_kb'])} before → "
              f"{mb(imported['web_after_kb'])}")
        for name, run in (("baseline: bulk_create, file read whole", plain),
                          ("baseline: RecordForm each row, then bulk_create", validated)):
            print(f"{name:<52}{rows / run['seconds']:>10.0f}{run['seconds']:>9.1f}  one process "
                  f"{mb(run['started_kb'])} after start → {mb(run['peak_kb'])}")
        print(f"{'ratio: import / baseline with RecordForm':<52}{validated['seconds'] / imported['seconds']:>10.2f}x")


if __name__ == "__main__":
    main()
