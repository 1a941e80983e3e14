"""`manage.py import_records SLUG FILE.csv` (DESIGN §3.7, §5): the same import as the builder's,
its progress and line-numbered problems printed, exit 1 when a row was refused. Waiting for real
workers is tested in tests/integration/test_import_with_workers.py."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from eventtree.models import Event, Import, ImportState, Record
from tests.factories import form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

FIELDS = [{"name": "name", "required": True}, {"name": "email", "type": "email"},
          {"name": "source", "internal": True}]


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str):
        path = tmp_path / "people.csv"
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_records", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_inline_every_row_imported_fires_the_imported_trees_and_exits_0(csv_file):
    form = form_create("people", fields=FIELDS)
    tree_create(form, [set_field("source", "command line")], event=Event.IMPORTED, name="On import")
    path = csv_file("name,email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(25)))

    out, _ = command("people", path, "--inline", "--chunk-size", "10")

    bulk_import = Import.objects.get()
    assert out.splitlines() == [
        f"Import {bulk_import.pk}: 25 rows in 3 chunks of up to 10; its page: "
        f"http://127.0.0.1:8000/builder/imports/{bulk_import.pk}/",
        "chunks 1/3 · 10 created · 0 refused",
        "chunks 2/3 · 20 created · 0 refused",
        "chunks 3/3 · 25 created · 0 refused",
        "Done: 25 records created, 0 rows refused.",
    ]
    assert {r.values["source"] for r in Record.objects.all()} == {"command line"}
    assert not OrmQ.objects.exists()  # nothing was handed to the workers


def test_inline_prints_each_refused_row_with_its_line_and_exits_1(csv_file):
    form_create("people", fields=FIELDS)
    path = csv_file("name,email\nAda,ada@example.com\nBob,bob@\n\n,cy@example.com\nDee,dee@example.com\n")

    with pytest.raises(CommandError) as error:
        command("people", path, "--inline")

    assert str(error.value) == "2 rows refused: see the lines above."
    assert Import.objects.get().state == ImportState.DONE
    assert sorted(Record.objects.values_list("values__name", flat=True)) == ["Ada", "Dee"]


def test_the_problems_are_printed_by_line(csv_file):
    form_create("people", fields=FIELDS)
    path = csv_file("name,email\nAda,ada@example.com\nBob,bob@\n\n,cy@example.com\n")
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_records", "people", path, "--inline", stdout=out)

    assert out.getvalue().splitlines()[-3:] == [
        "line 3: email: Enter a valid email address.",
        "line 5: name: This field is required.",
        "Done: 1 record created, 2 rows refused.",
    ]


def test_a_file_whose_header_does_not_fit_imports_nothing(csv_file):
    form_create("people", fields=FIELDS)

    with pytest.raises(CommandError) as error:
        command("people", csv_file("name,phone\nAda,123\n"), "--inline")

    assert str(error.value) == ("Nothing was imported:\n  Unknown column “phone”: the form has no such field "
                                "(its fields: name, email, source).")
    assert not Import.objects.exists()


def test_no_wait_hands_the_chunks_to_the_workers_and_returns(csv_file, settings, django_capture_on_commit_callbacks):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNKS_AT_ONCE": 2}
    form_create("people", fields=FIELDS)

    with django_capture_on_commit_callbacks(execute=True):
        out, _ = command("people", csv_file("name\n" + "P\n" * 50), "--no-wait", "--chunk-size", "10")

    assert "50 rows in 5 chunks" in out and Import.objects.get().state == ImportState.RUNNING
    assert [task.task["func"] for task in OrmQ.objects.all()] == ["eventtree.tasks.run_import_chunk"] * 2
    assert not Record.objects.exists()


def test_an_unknown_form_or_file_is_said(csv_file):
    with pytest.raises(CommandError, match="No form with slug 'nobody'"):
        command("nobody", csv_file("name\nAda\n"))
    form_create("people", fields=FIELDS)
    with pytest.raises(CommandError, match="Cannot read /nonexistent.csv: No such file or directory"):
        command("people", "/nonexistent.csv")
