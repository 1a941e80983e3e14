"""The product deployed as the README's scale-out section says, on throw-away servers.

The commands are read from the README's scale-out block and run as written there: the set-up
commands in their order, then the web server and any number of worker clusters (each with the
timers next to it), each a subprocess with the production settings (`automations.settings`),
configured by the variables the block exports. The test is a visitor (HTTP on loopback) and an auditor: it reads what happened
straight from the database and the sent-mail folder, not through the engine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from tests.servers import free_port, wait_for_port
from tests.testapp.actions import SLEEPERS_DIR
from tests.workers import process_ancestors, process_group_stop

ROOT = Path(__file__).resolve().parent.parent.parent
TEST_ACTIONS_APP = "tests.testapp.apps.TestActionsConfig"


class ScaleOut:
    """The README's scale-out block: what it exports, what it runs once, what it keeps running."""

    def __init__(self, readme: Path = ROOT / "README.md") -> None:
        text = readme.read_text()
        section = text.split("**Scale-out.**", 1)[1]
        block = section.split("```sh\n", 1)[1].split("```", 1)[0]
        self.exports: list[str] = []
        self.setup: list[list[str]] = []
        self.web: list[str] = []
        self.worker: list[str] = []
        self.timers: list[str] = []
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if words[0] == "export":
                self.exports.append(words[1].split("=", 1)[0])
            elif "gunicorn" in words[0]:
                self.web = words
            elif words[-1] == "qcluster":
                self.worker = words
            elif words[-1] == "timers":
                self.timers = words
            else:
                self.setup.append(words)
        assert self.exports and self.setup and self.web and self.worker and self.timers, block

    def web_on(self, port: int) -> list[str]:
        """The web command, listening on loopback at `port` instead of the README's address."""
        bind = self.web.index("--bind") + 1
        return [*self.web[:bind], f"127.0.0.1:{port}", *self.web[bind + 1:]]


README_SCALE_OUT = ScaleOut()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Deployment:
    """One web server and its worker clusters on one database (and Redis, when given)."""

    def __init__(self, *, workdir: Path, database_url: str, redis_url: str = "",
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.mail_dir = workdir / "mail"
        self.sleepers_dir = workdir / "sleepers"
        for folder in (self.mail_dir, self.sleepers_dir):
            folder.mkdir(parents=True, exist_ok=True)
        inherited = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "EVENTTREE_", "EMAIL_", "DATABASE_URL", "REDIS_URL"))
        }
        self.env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "automations.settings",
            "DJANGO_SECRET_KEY": "integration-" + "s3cret" * 8,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_COOKIES": "0",  # plain HTTP on loopback
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "DATABASE_URL": database_url,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "EVENTTREE_DATA_DIR": str(workdir / "data"),
            "EVENTTREE_EXTRA_APPS": TEST_ACTIONS_APP,
            SLEEPERS_DIR: str(self.sleepers_dir),
            "PYTHONUNBUFFERED": "1",
            # gunicorn's control socket goes here, not to one path shared by every gunicorn.
            "XDG_RUNTIME_DIR": str(workdir),
            **({"REDIS_URL": redis_url} if redis_url else {}),
            **(env or {}),
        }
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        self.web_port = 0
        self.csrf: tuple[str, str] | None = None  # (cookie, form token), reused for every submit

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- processes ---------------------------------------------------------------------------

    def run(self, command: list[str], timeout: float = 300) -> str:
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"{shlex.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def manage(self, *args: str, timeout: float = 180) -> str:
        return self.run([sys.executable, "manage.py", *args], timeout=timeout)

    def install(self) -> Deployment:
        """The README's set-up commands, as written there, in its order."""
        if "REDIS_URL" in self.env:  # scale-out, not the embedded default on the ORM broker
            missing = [name for name in README_SCALE_OUT.exports if not self.env.get(name)]
            assert not missing, f"the README exports {missing}, which this deployment does not set"
        for command in README_SCALE_OUT.setup:
            self.run(command)
        return self

    def import_form(self, package: dict[str, Any]) -> None:
        path = self.workdir / f"{package['form']['slug']}.json"
        path.write_text(json.dumps(package))
        self.manage("import_form", str(path))

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        with open(log, "ab") as output:
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process, log))
        return process

    def start_web(self) -> None:
        self.web_port = free_port()
        self.spawn("web", README_SCALE_OUT.web_on(self.web_port))
        wait_for_port(self.web_port, timeout=60)

    def start_cluster(self, *, timers: bool = True) -> subprocess.Popen:
        """A worker machine: a cluster and, unless told otherwise, the timers next to it (each
        machine may run them)."""
        if timers:
            self.spawn("timers", README_SCALE_OUT.timers)
        return self.spawn("qcluster", README_SCALE_OUT.worker)

    def stop(self) -> None:
        for _, process, _ in reversed(self.processes):
            process_group_stop(process)

    def stop_clusters(self) -> None:
        """Stop the workers gracefully: what they were doing is finished or rolled back."""
        for name, process, _ in self.processes:
            if name == "qcluster":
                process_group_stop(process)

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}"
                         for _, _, log in self.processes)

    def sweep_soon(self) -> None:
        """Make the sweeper's schedule due now, so the next scheduler look (every 30 s) runs it.

        Without this a test would wait for the sweeper's own minute on top of that; what the
        sweeper then does is unchanged.
        """
        self.manage("shell", "-c", "from django.utils import timezone; "
                    "from django_q.models import Schedule; "
                    "from eventtree.engine.dispatch import SWEEPER_NAME; "
                    "assert Schedule.objects.filter(name=SWEEPER_NAME)"
                    ".update(next_run=timezone.now()) == 1")

    def sleeping_workers(self) -> dict[int, str]:
        """Worker processes of this deployment inside a `sleep` action now: {pid: "block-<id>"}."""
        clusters = {process.pid for name, process, _ in self.processes if name == "qcluster"}
        sleeping = {}
        for marker in self.sleepers_dir.iterdir():
            pid, block, _ = marker.name.split(".")
            if clusters & set(process_ancestors(int(pid))):
                sleeping[int(pid)] = block
        return sleeping

    # -- a visitor ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def submit(self, slug: str, values: dict[str, str]) -> str:
        """Post the public form as a browser would; returns where it redirects to."""
        opener = urllib.request.build_opener(NoRedirect)
        if self.csrf is None:
            with opener.open(self.url(f"/f/{slug}/"), timeout=30) as page:
                cookie = page.headers["Set-Cookie"].split(";", 1)[0]
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
            self.csrf = (cookie, token.group(1))
        cookie, token = self.csrf
        request = urllib.request.Request(
            self.url(f"/f/{slug}/"),
            data=urllib.parse.urlencode({"csrfmiddlewaretoken": token, **values}).encode(),
            headers={"Cookie": cookie},
        )
        try:
            with opener.open(request, timeout=60) as response:
                body = response.read().decode(errors="replace")
        except urllib.error.HTTPError as response:
            if response.code == 302:
                return response.headers["Location"]
            raise AssertionError(f"the submit answered {response.code}:\n{self.logs()}") from None
        raise AssertionError(f"the submit showed the form again:\n{body[:3000]}")

    def status(self, location: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url(location + "status.json"), timeout=30) as response:
            return json.load(response)

    # -- what happened, read from the database and the mail folder ----------------------------

    def sql(self, query: str, *params: Any) -> list[tuple]:
        if self.database_url.startswith("sqlite:///"):
            db = sqlite3.connect(self.database_url.removeprefix("sqlite:///"), timeout=30)
            try:
                return db.execute(query.replace("%s", "?"), params).fetchall()
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.database_url) as db:
            return db.execute(query, params).fetchall()

    def records(self, slug: str) -> list[dict[str, Any]]:
        rows = self.sql("SELECT r.id, r.\"values\" FROM eventtree_record r JOIN eventtree_form f "
                        "ON f.id = r.form_id WHERE f.slug = %s ORDER BY r.id", slug)
        return [{"id": id, **(values if isinstance(values, dict) else json.loads(values))}
                for id, values in rows]

    def runs_unfinished(self) -> int:
        return self.sql("SELECT count(*) FROM eventtree_run WHERE status = 'running'")[0][0]

    def blocks(self) -> list[tuple[str, str, int]]:
        """(label, state, attempts) of every block."""
        return self.sql("SELECT label, state, attempts FROM eventtree_block ORDER BY id")

    def sent_subjects(self) -> Counter:
        """How many emails were sent with each subject (the file backend may append several
        messages to one file, so messages are counted, not files)."""
        subjects: Counter = Counter()
        for path in self.mail_dir.iterdir():
            subjects.update(re.findall(r"^Subject: (.*)$", path.read_text(errors="replace"), re.M))
        return subjects
