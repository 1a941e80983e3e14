"""Starting a CSV import (services/imports.py, DESIGN §3.7): the header names the fields, the rows
are read as a stream into chunks with their line numbers, and a file that does not fit is refused
whole, keeping nothing. The rows themselves are checked by the chunks (tests/engine/test_import_chunks.py)."""

from __future__ import annotations

import io

import pytest
from django_q.models import OrmQ

from eventtree.engine.imports import import_chunk_run
from eventtree.models import Import, ImportChunk, ImportState, Record
from eventtree.services.imports import ImportRefused, import_create
from tests.factories import form_create

pytestmark = pytest.mark.django_db

MEMBER_FIELDS = [
    {"name": "name", "label": "Full name", "required": True},
    {"name": "email", "type": "email"},
    {"name": "member", "type": "checkbox"},
    {"name": "level", "type": "choice", "choices": ["Bronze", "Gold"], "default": "Bronze"},
    {"name": "visits", "type": "number", "internal": True, "default": 0},
]


def csv_import(form, text: str | bytes, **kwargs) -> Import:
    data = text.encode() if isinstance(text, str) else text
    return import_create(form=form, stream=io.BytesIO(data), file_name="members.csv", **kwargs)


def chunks_run(django_capture_on_commit_callbacks) -> None:
    for chunk in ImportChunk.objects.order_by("number"):
        with django_capture_on_commit_callbacks(execute=True):
            import_chunk_run(chunk.pk)


def values_by_name() -> dict[str, dict]:
    return {record.values["name"]: record.values for record in Record.objects.all()}


def test_columns_name_fields_by_name_or_label_in_any_case_and_a_field_without_one_gets_its_default(
        django_capture_on_commit_callbacks):
    form = form_create("members", fields=MEMBER_FIELDS)
    # A spreadsheet's export: a byte order mark, semicolons, CR LF, labels for names.
    text = "\ufeffFull name;EMAIL;Member\r\nAda;ada@example.com;yes\r\nBob;;No\r\n"

    bulk_import = csv_import(form, text)
    chunks_run(django_capture_on_commit_callbacks)

    assert bulk_import.columns == ["name", "email", "member"]
    assert values_by_name() == {
        "Ada": {"name": "Ada", "email": "ada@example.com", "member": True, "level": "Bronze", "visits": 0},
        "Bob": {"name": "Bob", "email": "", "member": False, "level": "Bronze", "visits": 0},
    }


def test_an_unknown_column_is_refused_by_its_name_and_nothing_is_kept():
    form = form_create("members", fields=MEMBER_FIELDS)

    with pytest.raises(ImportRefused) as refused:
        csv_import(form, "name,nickname,email\nAda,ada,ada@example.com\n")

    assert refused.value.problems == [
        "Unknown column “nickname”: the form has no such field (its fields: name, email, member, level, visits)."]
    assert not Import.objects.exists() and not ImportChunk.objects.exists() and not OrmQ.objects.exists()


def test_a_header_without_a_required_field_or_with_a_field_twice_is_refused():
    form = form_create("members", fields=MEMBER_FIELDS)

    with pytest.raises(ImportRefused) as refused:
        csv_import(form, "email,Email,\nada@example.com,ada@example.com,\n")

    assert refused.value.problems == [
        "Two columns fill the field “email”.",
        "Column 3 of the header has no name.",
        "The header has no column for the required field “name”.",
    ]
    assert not Import.objects.exists()


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "The file is empty: its first line should name the fields."),
    (b"name,email\n\n", "The file has a header but no rows."),
    (b"name\nAda\n\xe9mile\n", "Line 3 is not UTF-8 text: save the file as CSV UTF-8."),
    (b"name\nAda\n" + b"x" * 200_000 + b"\n",
     "Line 3: the file could not be read as CSV (field larger than field limit (131072))."),
])
def test_a_file_that_is_not_csv_with_rows_is_refused_whole(data, problem):
    form = form_create("members", fields=MEMBER_FIELDS)

    with pytest.raises(ImportRefused) as refused:
        csv_import(form, data)

    assert refused.value.problems == [problem]
    assert not Import.objects.exists() and not ImportChunk.objects.exists()


def test_rows_go_into_chunks_with_the_line_each_starts_on(settings):
    form = form_create("members", fields=MEMBER_FIELDS)
    # Line 3 is blank; the value on line 4 spans two lines.
    rows = ["name,email", "Ada,ada@example.com", "", '"Bob\nthe second",bob@example.com', "Cy,cy@example.com"]
    rows += [f"Visitor {i},v{i}@example.com" for i in range(250)]

    bulk_import = csv_import(form, "\n".join(rows) + "\n", chunk_size=100)

    assert (bulk_import.state, bulk_import.rows, bulk_import.chunk_count) == (ImportState.RUNNING, 253, 3)
    chunks = list(ImportChunk.objects.order_by("number"))
    assert [(c.number, c.row_count, c.first_line, c.last_line) for c in chunks] == [
        (1, 100, 2, 103), (2, 100, 104, 203), (3, 53, 204, 256)]
    assert chunks[0].rows[:3] == [[2, ["Ada", "ada@example.com"]], [4, ["Bob\nthe second", "bob@example.com"]],
                                  [6, ["Cy", "cy@example.com"]]]


def test_the_first_chunks_go_to_the_workers_when_the_import_commits(settings, django_capture_on_commit_callbacks):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNKS_AT_ONCE": 2}
    form = form_create("members", fields=MEMBER_FIELDS)
    text = "name\n" + "".join(f"Visitor {i}\n" for i in range(50))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        csv_import(form, text, chunk_size=10)
    assert not OrmQ.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()

    chunks = list(ImportChunk.objects.order_by("number").values_list("pk", flat=True))
    assert sorted(task.task["args"][0] for task in OrmQ.objects.all()) == chunks[:2]
    assert all(task.task["func"] == "eventtree.tasks.run_import_chunk" for task in OrmQ.objects.all())


def test_reading_a_file_holds_only_a_few_chunks_at_a_time(django_assert_max_num_queries):
    form = form_create("members", fields=MEMBER_FIELDS)
    text = "name\n" + "".join(f"Visitor {i}\n" for i in range(2000))

    # 20 chunks, written ten at a time: the file is never held whole.
    with django_assert_max_num_queries(12) as queries:
        csv_import(form, text, chunk_size=100, hand_over=False)

    inserts = [q["sql"] for q in queries.captured_queries if 'INSERT INTO "eventtree_importchunk"' in q["sql"]]
    assert len(inserts) == 2
    assert ImportChunk.objects.count() == 20
