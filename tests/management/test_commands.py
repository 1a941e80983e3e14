"""The management commands of DESIGN §5: import_form, export_form, export_records, loaddemo."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from eventtree.models import EventTree, Field, Form, Node, Record
from eventtree.services.packages import form_package_export

DEMO_DIR = Path(__file__).resolve().parents[2] / "eventtree" / "demo"

PACKAGE: dict[str, Any] = {
    "form": {
        "slug": "contact",
        "name": "Contact",
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "topic", "type": "choice", "choices": ["Sales", "Support"]},
            {"name": "done", "type": "checkbox", "internal": True},
        ],
    },
    "trees": [
        {
            "name": "On submit",
            "event": "submitted",
            "mode": "sync",
            "active": True,
            "max_attempts": 3,
            "nodes": [
                {"kind": "background", "label": "Later", "children": [
                    {"kind": "action", "action": "set_field", "config": {"field": "done", "value": "yes"}},
                ]},
            ],
        },
        {"name": "On update", "event": "updated", "mode": "async", "active": False, "max_attempts": 2,
         "nodes": []},
    ],
}


def run(*args: Any, **options: Any) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def model_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Form, Field, EventTree, Node, Record)}


@pytest.mark.django_db
def test_import_form_creates_the_form_from_a_file(tmp_path: Path) -> None:
    stdout, _ = run("import_form", str(write_json(tmp_path / "contact.json", PACKAGE)))

    assert stdout.strip() == "Imported form 'contact' with 2 trees, published"
    assert form_package_export(form=Form.objects.get(slug="contact")) == PACKAGE


@pytest.mark.django_db
def test_import_form_reads_standard_input() -> None:
    stdout, _ = run("import_form", "-", stdin=io.StringIO(json.dumps(PACKAGE)))

    assert stdout.strip() == "Imported form 'contact' with 2 trees, published"
    assert Form.objects.filter(slug="contact").exists()


@pytest.mark.django_db
def test_import_form_reports_malformed_json_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"form": {"slug": "contact",\n  "name": "Contact"\n  "fields": []}}', encoding="utf-8")

    with pytest.raises(CommandError, match="nothing imported, 1 problem"):
        run("import_form", str(path))

    assert model_counts() == dict.fromkeys(["Form", "Field", "EventTree", "Node", "Record"], 0)


@pytest.mark.django_db
def test_import_form_prints_the_json_error_to_stderr(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"form": {"slug": "contact",\n  "name": "Contact"\n  "fields": []}}', encoding="utf-8")
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_form", str(path), stdout=io.StringIO(), stderr=stderr)

    assert stderr.getvalue().splitlines() == [
        "not valid JSON: line 3 column 3: Expecting ',' delimiter"
    ]


@pytest.mark.django_db
def test_import_form_lists_every_problem_and_imports_nothing(tmp_path: Path) -> None:
    package = json.loads(json.dumps(PACKAGE))
    package["form"]["fields"][1]["type"] = "colour"
    package["trees"][0]["nodes"][0]["children"][0]["action"] = "sned_email"
    path = write_json(tmp_path / "bad.json", package)
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="nothing imported, 2 problems"):
        call_command("import_form", str(path), stdout=io.StringIO(), stderr=stderr)

    assert stderr.getvalue().splitlines() == [
        "form.fields[1].type: unknown type 'colour'",
        "trees[0].nodes[0].children[0]: unknown action type 'sned_email' (did you mean 'send_email'?)",
    ]
    assert not Form.objects.exists()


@pytest.mark.django_db
def test_import_form_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read .*missing.json"):
        run("import_form", str(tmp_path / "missing.json"))


@pytest.mark.django_db
def test_import_form_needs_replace_for_an_existing_slug_and_keeps_records(tmp_path: Path) -> None:
    path = write_json(tmp_path / "contact.json", PACKAGE)
    run("import_form", str(path))
    form = Form.objects.get(slug="contact")
    record = Record.objects.create(form=form, values={"name": "Ann", "topic": "Sales"})
    before = model_counts()

    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_form", str(path), stdout=io.StringIO(), stderr=stderr)
    assert stderr.getvalue().strip() == (
        "form.slug: a form with slug 'contact' already exists (use --replace)"
    )
    assert model_counts() == before

    changed = json.loads(json.dumps(PACKAGE))
    changed["form"]["name"] = "Contact us"
    changed["trees"] = changed["trees"][:1]
    stdout, _ = run("import_form", str(write_json(path, changed)), "--replace")

    assert stdout.strip() == "Imported form 'contact' with 1 tree, published"
    record.refresh_from_db()
    assert record.form_id == form.pk
    assert record.values == {"name": "Ann", "topic": "Sales"}
    exported = form_package_export(form=Form.objects.get(slug="contact"))
    assert [(tree["name"], tree["active"]) for tree in exported["trees"]] == [
        ("On submit", True), ("On update", False)]  # the tree the package lacks is kept, inactive
    exported["trees"] = exported["trees"][:1]
    assert exported == changed


@pytest.mark.django_db
def test_export_form_writes_the_package_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    run("import_form", str(write_json(tmp_path / "in.json", PACKAGE)))

    stdout, _ = run("export_form", "contact")
    assert json.loads(stdout) == PACKAGE
    assert stdout.startswith('{\n  "form": {\n    "slug": "contact",')

    out = tmp_path / "out.json"
    stdout, _ = run("export_form", "contact", "-o", str(out))
    assert stdout.strip() == f"Exported form 'contact' to {out}"
    assert json.loads(out.read_text(encoding="utf-8")) == PACKAGE


@pytest.mark.django_db
def test_exported_form_imports_into_an_empty_database(tmp_path: Path) -> None:
    run("loaddemo")
    out = tmp_path / "membership.json"
    run("export_form", "membership", "-o", str(out))
    Form.objects.all().delete()

    run("import_form", str(out))

    exported, _ = run("export_form", "membership")
    assert json.loads(exported) == json.loads((DEMO_DIR / "membership.json").read_text(encoding="utf-8"))


@pytest.mark.django_db
def test_export_form_of_an_unknown_slug_fails() -> None:
    with pytest.raises(CommandError, match="No form with slug 'nope'"):
        run("export_form", "nope")


@pytest.mark.django_db
def test_export_records_writes_json_lines_oldest_first(tmp_path: Path) -> None:
    run("import_form", str(write_json(tmp_path / "contact.json", PACKAGE)))
    form = Form.objects.get(slug="contact")
    first = Record.objects.create(form=form, values={"name": "Ann", "topic": "Sales"})
    second = Record.objects.create(form=form, values={"name": "Bo ü", "done": True})
    Record.objects.create(form=Form.objects.create(slug="other", name="Other"), values={"name": "X"})

    stdout, _ = run("export_records", "contact")

    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["id"] for line in lines] == [first.pk, second.pk]
    assert [line["values"] for line in lines] == [
        {"name": "Ann", "topic": "Sales"},
        {"name": "Bo ü", "done": True},
    ]
    assert all(set(line) == {"id", "created", "values"} for line in lines)
    assert dt.datetime.fromisoformat(lines[0]["created"]) == first.created_at


@pytest.mark.django_db
def test_export_records_of_an_unknown_slug_fails() -> None:
    with pytest.raises(CommandError, match="No form with slug 'nope'"):
        run("export_records", "nope")


@pytest.mark.django_db
def test_loaddemo_is_idempotent() -> None:
    stdout, _ = run("loaddemo")
    assert "Loaded form 'membership' (Membership application) with 1 tree" in stdout
    assert "Loaded form 'onboarding' (Onboarding) with 1 tree" in stdout
    counts = model_counts()
    Record.objects.create(form=Form.objects.get(slug="membership"), values={"name": "Ann"})

    again, _ = run("loaddemo")
    assert "Form 'membership' is already loaded" in again
    assert {**model_counts(), "Record": 0} == {**counts, "Record": 0}

    run("loaddemo", "--reset")

    assert sorted(Form.objects.values_list("slug", flat=True)) == ["membership", "onboarding"]
    assert {**model_counts(), "Record": 0} == {**counts, "Record": 0}
    assert Record.objects.filter(form__slug="membership").count() == 1


@pytest.mark.django_db
def test_loaddemo_contains_the_reference_tree() -> None:
    run("loaddemo")

    tree = form_package_export(form=Form.objects.get(slug="membership"))["trees"][0]
    assert (tree["event"], tree["mode"], tree["active"]) == ("submitted", "sync", True)
    summary = [
        (node["kind"], node.get("config", {}).get("field"), [child["action"] for child in node.get("children", [])])
        for node in tree["nodes"]
    ]
    assert summary == [
        ("action", "field_a", []),
        ("background", None, ["set_field", "set_field", "send_email"]),
        ("action", "field_d", []),
    ]


@pytest.mark.django_db
def test_loaddemo_admin_creates_a_superuser_that_can_log_in() -> None:
    user_model = get_user_model()

    stdout, stderr = run("loaddemo", "--admin")

    assert "local development only" in stderr
    user = user_model.objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert Client().login(username="admin", password="admin")

    user.set_password("changed")
    user.is_superuser = False
    user.save()
    run("loaddemo", "--admin")

    assert user_model.objects.filter(username="admin").count() == 1
    assert user_model.objects.get(username="admin").is_superuser
    assert Client().login(username="admin", password="admin")


@pytest.mark.django_db
def test_loaddemo_without_admin_creates_no_user() -> None:
    run("loaddemo")

    assert not get_user_model().objects.exists()
