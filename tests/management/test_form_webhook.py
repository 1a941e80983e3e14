"""`manage.py form_webhook SLUG --rotate | --disable`, and the webhook secret kept out of the
form package both ways (export_form, import_form)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from eventtree.management.commands.form_webhook import Command
from eventtree.models import Form
from eventtree.services.packages import form_package_export
from tests.factories import form_create

pytestmark = pytest.mark.django_db

SECRET = "an-old-secret-0123456789abcdefghijklmnopqrstuv"


def run(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("form_webhook", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def hook_status(secret: str) -> int:
    return Client().post("/hooks/partner/", json.dumps({"name": "Ada"}), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def test_rotate_prints_the_new_secret_once_and_it_works_at_once():
    form = form_create("partner", webhook_secret=SECRET)

    stdout, stderr = run("partner", "--rotate")

    form.refresh_from_db()
    assert stdout == form.webhook_secret + "\n" and form.webhook_secret != SECRET
    assert form.webhook_secret not in stderr and "partner" in stderr
    assert hook_status(form.webhook_secret) == 202 and hook_status(SECRET) == 401


def test_disable_removes_the_secret():
    form = form_create("partner", webhook_secret=SECRET)

    stdout, _ = run("partner", "--disable")

    form.refresh_from_db()
    assert form.webhook_secret == "" and SECRET not in stdout
    assert "disabled" in stdout and hook_status(SECRET) == 401


def test_an_unknown_slug_exits_1_with_a_message(capsys):
    with pytest.raises(CommandError, match="No form with slug 'nope'"):
        run("nope", "--rotate")
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "form_webhook", "nope", "--disable"])
    assert exited.value.code == 1
    assert "No form with slug 'nope'" in capsys.readouterr().err


def test_one_of_rotate_or_disable_is_needed():
    form_create("partner", webhook_secret=SECRET)
    with pytest.raises(CommandError):
        run("partner")
    with pytest.raises(CommandError):
        run("partner", "--rotate", "--disable")
    assert Form.objects.get().webhook_secret == SECRET


def test_a_package_never_holds_the_secret_and_an_import_never_sets_one(tmp_path: Path):
    form = form_create("partner", webhook_secret=SECRET)
    assert "webhook_secret" not in form_package_export(form=form)["form"]
    exported = io.StringIO()
    call_command("export_form", "partner", stdout=exported)
    assert SECRET not in exported.getvalue()

    package = json.loads(exported.getvalue())
    copy = {**package, "form": {**package["form"], "slug": "copy"}}
    call_command("import_form", "-", stdin=io.StringIO(json.dumps(copy)), stdout=io.StringIO())
    assert Form.objects.get(slug="copy").webhook_secret == ""

    package["form"]["webhook_secret"] = "chosen-by-the-package"
    path = tmp_path / "with-secret.json"
    path.write_text(json.dumps(package), encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_form", str(path), "--replace", stdout=io.StringIO(), stderr=io.StringIO())
    form.refresh_from_db()
    assert form.webhook_secret == SECRET
    # Replacing a form from its package keeps its secret: only the builder and form_webhook set it.
    del package["form"]["webhook_secret"]
    path.write_text(json.dumps(package), encoding="utf-8")
    call_command("import_form", str(path), "--replace", stdout=io.StringIO())
    form.refresh_from_db()
    assert form.webhook_secret == SECRET
