"""A CSV import's chunks in a worker (engine/imports.py, DESIGN §3.7): each row validated as the
public form validates a submit, each record firing `imported`, a refused row reported by its line
while the others go on, and a chunk run again — a repeated task, a rolled-back transaction, a
worker that died — never creating its records twice."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from eventtree.engine.imports import CHUNK_ATTEMPTS, chunk_claim, import_chunk_run
from eventtree.engine.sweeper import sweep
from eventtree.models import (
    Block,
    ChunkState,
    Event,
    Import,
    ImportChunk,
    ImportState,
    Record,
    Run,
)
from eventtree.services.imports import import_create
from eventtree.signals import record_event
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

FIELDS = [
    {"name": "name", "required": True},
    {"name": "email", "type": "email", "required": True},
    {"name": "plan", "type": "choice", "choices": ["Free", "Pro"]},
    {"name": "source", "internal": True},
    {"name": "checked", "internal": True},
]


def people(count: int, start: int = 0) -> str:
    return "".join(f"Person {i},p{i}@example.com,Free\n" for i in range(start, start + count))


def csv_import(text: str, *, chunk_size: int = 100, form=None) -> Import:
    form = form or form_create("people", fields=FIELDS)
    return import_create(form=form, stream=io.BytesIO(("name,email,plan\n" + text).encode()),
                         file_name="people.csv", chunk_size=chunk_size, hand_over=False)


def chunk_ids() -> list[int]:
    return list(ImportChunk.objects.order_by("number").values_list("pk", flat=True))


def run(chunk_id: int, capture) -> ChunkState | None:
    """The chunk's task, as a worker runs it, its on-commit hand-overs included."""
    with capture(execute=True):
        return import_chunk_run(chunk_id)


def names() -> list[str]:
    return sorted(Record.objects.values_list("values__name", flat=True))


def test_a_bad_row_is_reported_with_its_line_and_the_other_rows_are_imported(django_capture_on_commit_callbacks):
    bulk_import = csv_import(people(3) + "Eve,not an address,Free\n" + "Mallory,m@example.com,Platinum\n"
                             + ",x@example.com,Free\n" + "Zed,z@example.com,Pro,extra\n" + people(2, start=3))

    assert [run(pk, django_capture_on_commit_callbacks) for pk in chunk_ids()] == [ChunkState.DONE]

    assert names() == [f"Person {i}" for i in range(5)]
    chunk = ImportChunk.objects.get()
    assert chunk.problems == [
        {"line": 5, "errors": ["email: Enter a valid email address."]},
        {"line": 6, "errors": ["plan: Select a valid choice. Platinum is not one of the available choices."]},
        {"line": 7, "errors": ["name: This field is required."]},
        {"line": 8, "errors": ["The row has more values than the header has columns (3)."]},
    ]
    assert (chunk.created, chunk.refused, chunk.rows) == (5, 4, [])
    bulk_import.refresh_from_db()
    assert (bulk_import.state, bulk_import.created, bulk_import.refused, bulk_import.chunks_finished) == (
        ImportState.DONE, 5, 4, 1)
    assert bulk_import.finished_at is not None
    assert set(Record.objects.values_list("import_chunk", flat=True)) == {chunk.pk}


def test_each_record_fires_the_imported_trees_and_their_blocks_go_to_the_workers(django_capture_on_commit_callbacks):
    form = form_create("people", fields=FIELDS)
    tree_create(form, [set_field("source", "csv"),
                       {"kind": "background", "label": "Check", "children": [set_field("checked", "yes")]}],
                event=Event.IMPORTED, name="On import")
    tree_create(form, [set_field("source", "visitor")], name="On submit")
    csv_import(people(3), form=form)

    run(chunk_ids()[0], django_capture_on_commit_callbacks)

    assert {record.values["source"] for record in Record.objects.all()} == {"csv"}
    runs = list(Run.objects.all())
    assert len(runs) == 3 and {(r.event, r.submission_id, r.tree.name) for r in runs} == {("imported", None, "On import")}
    blocks = list(Block.objects.values_list("pk", flat=True))
    queued = sorted(task.task["args"][0] for task in OrmQ.objects.all() if task.task["func"] == "eventtree.tasks.run_block")
    assert len(blocks) == 3 and queued == sorted(blocks)


def test_a_row_the_trees_refuse_is_reported_with_its_line_and_rolled_back_alone(django_capture_on_commit_callbacks):
    form = form_create("people", fields=FIELDS)
    tree_create(form, [set_field("source", "csv"),
                       {"kind": "condition", "field": "plan", "op": "eq", "value": "Pro",
                        "children": [action("fail", message="Pro plans are sold, not imported")]}],
                event=Event.IMPORTED, name="On import")
    csv_import(people(2) + "Pat,pat@example.com,Pro\n" + people(1, start=2), form=form)

    run(chunk_ids()[0], django_capture_on_commit_callbacks)

    assert names() == ["Person 0", "Person 1", "Person 2"]
    assert Run.objects.count() == 3
    assert ImportChunk.objects.get().problems == [
        {"line": 4, "errors": ["Refused by the form's trees: Pro plans are sold, not imported"]}]


def test_a_chunk_run_twice_creates_its_records_once(django_capture_on_commit_callbacks):
    bulk_import = csv_import(people(250))
    first, second, third = chunk_ids()

    assert run(first, django_capture_on_commit_callbacks) == ChunkState.DONE
    assert run(first, django_capture_on_commit_callbacks) is None  # the task delivered again

    assert Record.objects.count() == 100
    bulk_import.refresh_from_db()
    assert (bulk_import.created, bulk_import.chunks_finished, bulk_import.state) == (100, 1, ImportState.RUNNING)
    # The records of a finished chunk are there while the next ones wait.
    assert run(second, django_capture_on_commit_callbacks) == run(third, django_capture_on_commit_callbacks) == ChunkState.DONE
    assert Record.objects.count() == 250 and len(set(names())) == 250


def test_a_chunk_whose_transaction_rolled_back_mid_way_runs_again_from_the_start(django_capture_on_commit_callbacks):
    csv_import(people(10))
    (chunk_id,) = chunk_ids()
    seen = []

    def another_apps_receiver(record, **kwargs):  # a listener that fails at the 6th record
        seen.append(record.pk)
        if len(seen) == 6:
            raise RuntimeError("the listener's server is down")

    record_event.connect(another_apps_receiver)
    try:
        assert run(chunk_id, django_capture_on_commit_callbacks) == ChunkState.PENDING
    finally:
        record_event.disconnect(another_apps_receiver)

    chunk = ImportChunk.objects.get()
    assert not Record.objects.exists()  # the five records before it were rolled back with it
    assert (chunk.state, chunk.attempts, chunk.last_error) == (
        ChunkState.PENDING, 1, "RuntimeError: the listener's server is down")

    assert run(chunk_id, django_capture_on_commit_callbacks) == ChunkState.DONE
    assert names() == [f"Person {i}" for i in range(10)]
    chunk.refresh_from_db()
    assert (chunk.attempts, chunk.created, chunk.last_error) == (2, 10, "")


def test_a_chunk_whose_worker_died_in_it_runs_again_and_creates_its_records_once(django_capture_on_commit_callbacks):
    bulk_import = csv_import(people(10))
    (chunk_id,) = chunk_ids()
    # A worker claimed it, then died in its transaction: the claim is all that committed.
    chunk_claim(chunk_id)
    assert ImportChunk.objects.get().state == ChunkState.RUNNING

    assert run(chunk_id, django_capture_on_commit_callbacks) == ChunkState.DONE

    assert Record.objects.count() == 10
    assert ImportChunk.objects.get().attempts == 2
    bulk_import.refresh_from_db()
    assert (bulk_import.state, bulk_import.created) == (ImportState.DONE, 10)


def test_a_chunk_that_fails_at_every_attempt_is_failed_and_the_import_too(django_capture_on_commit_callbacks):
    bulk_import = csv_import(people(20), chunk_size=10)
    first, second = chunk_ids()

    def broken_receiver(record, **kwargs):
        if record.values["name"] == "Person 3":
            raise RuntimeError("always")

    record_event.connect(broken_receiver)
    try:
        states = [run(first, django_capture_on_commit_callbacks) for _ in range(CHUNK_ATTEMPTS)]
        assert run(second, django_capture_on_commit_callbacks) == ChunkState.DONE
    finally:
        record_event.disconnect(broken_receiver)

    assert states == [ChunkState.PENDING, ChunkState.PENDING, ChunkState.FAILED]
    assert names() == [f"Person {i}" for i in range(10, 20)]
    bulk_import.refresh_from_db()
    assert (bulk_import.state, bulk_import.created, bulk_import.chunks_finished) == (ImportState.FAILED, 10, 2)
    assert run(first, django_capture_on_commit_callbacks) is None  # a failed chunk is not run again


def test_each_finished_chunk_hands_the_next_one_to_the_workers(settings, django_capture_on_commit_callbacks):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNKS_AT_ONCE": 2}
    form = form_create("people", fields=FIELDS)
    with django_capture_on_commit_callbacks(execute=True):
        import_create(form=form, stream=io.BytesIO(("name,email\n" + people(50)).encode()), file_name="p.csv",
                      chunk_size=10)
    chunks = chunk_ids()

    def queued() -> list[int]:
        return sorted(task.task["args"][0] for task in OrmQ.objects.all())

    assert queued() == chunks[:2]
    run(chunks[0], django_capture_on_commit_callbacks)
    assert queued() == chunks[:3]  # the task of the chunk that ran is still in this test's queue


def test_the_sweeper_hands_over_again_chunks_whose_task_was_lost(settings, django_capture_on_commit_callbacks):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNKS_AT_ONCE": 2}
    csv_import(people(40), chunk_size=10)  # handed to nobody, as if the broker refused it
    chunks = chunk_ids()

    assert sweep().chunks == 2  # an import none of whose chunks is handed over gets its next ones
    assert sweep().chunks == 0  # they are handed over now
    long_ago = timezone.now() - timedelta(seconds=settings.EVENTTREE["WAKE_LOST_SECONDS"] + 5)
    ImportChunk.objects.filter(pk=chunks[0]).update(woken_at=long_ago)  # its task was lost
    assert sweep().chunks == 1

    tasks = [task.task["args"][0] for task in OrmQ.objects.order_by("id")]
    assert tasks == [chunks[0], chunks[1], chunks[0]]


def test_the_sweeper_costs_one_query_for_imports_when_none_runs(django_assert_num_queries):
    from eventtree.engine.imports import import_chunks_resend

    with django_assert_num_queries(1):
        assert import_chunks_resend() == 0


def test_a_chunk_without_trees_costs_the_same_statements_whatever_its_rows(django_assert_max_num_queries,
                                                                         django_capture_on_commit_callbacks):
    csv_import(people(100))
    (chunk_id,) = chunk_ids()

    with django_assert_max_num_queries(15) as queries:
        run(chunk_id, django_capture_on_commit_callbacks)

    assert Record.objects.count() == 100
    assert len([q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "eventtree_record"')]) == 1


def test_an_import_whose_reader_stopped_is_failed_by_the_sweeper_and_keeps_nothing(settings, client):
    """A web process killed while it read an upload left its import *validating* for ever, with the
    chunks it had written: the sweeper gives it up once it is older than any read takes."""
    from tests.views.staff import staff_create

    form = form_create("people", fields=FIELDS)
    stuck = Import.objects.create(form=form, file_name="big.csv", columns=["name", "email", "plan"], chunk_size=100)
    ImportChunk.objects.create(bulk_import=stuck, number=1, first_line=2, last_line=2, row_count=1,
                               rows=[[2, ["Ada", "ada@example.com", "Free"]]])
    reading = Import.objects.create(form=form, file_name="now.csv", columns=["name", "email"], chunk_size=100)
    stale = settings.EVENTTREE["IMPORT_READ_STALE_SECONDS"]
    Import.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(seconds=stale + 5))

    assert sweep().imports_given_up == 1
    stuck.refresh_from_db()
    assert stuck.state == ImportState.FAILED and stuck.finished_at is not None
    assert not ImportChunk.objects.filter(bulk_import=stuck).exists() and not Record.objects.exists()
    assert Import.objects.get(pk=reading.pk).state == ImportState.VALIDATING  # still being read
    assert sweep().imports_given_up == 0

    client.force_login(staff_create("viewer", "eventtree.view_record"))
    page = client.get(f"/builder/imports/{stuck.pk}/").content.decode()
    assert "The file was not read to its end" in page and "upload the file again" in page
    assert 'hx-trigger="every 2s"' not in page  # finished: the page stops polling
    assert "Chunks finished" not in page and 'id="import-count"' not in page  # no counts of a read that never ended


def test_a_read_that_outlived_its_import_keeps_nothing_and_says_so():
    """The other side: a read still going when the sweeper gave its import up does not bring it
    back to life (its chunks would never run)."""
    from eventtree.services.imports import ImportRefused

    class GivenUpWhileRead(io.BytesIO):
        def readline(self, *args):
            line = super().readline(*args)
            if self.tell() > 200:  # the sweeper gives the import up while the file is read
                Import.objects.filter(state=ImportState.VALIDATING).update(state=ImportState.FAILED)
            return line

    form = form_create("people", fields=FIELDS)
    with pytest.raises(ImportRefused, match="took too long"):
        import_create(form=form, stream=GivenUpWhileRead(("name,email,plan\n" + people(300)).encode()),
                      file_name="people.csv", chunk_size=10, hand_over=False)
    assert Import.objects.get().state == ImportState.FAILED
    assert not ImportChunk.objects.exists()
