"""Running a CSV import's chunks in workers (DESIGN §3.7): claim, validate, create and fire, settle.

A chunk's records are created in one transaction whose first statement marks the chunk done, on
condition that it is still the attempt this worker claimed: a repeated task finds it done and does
nothing, a worker that died took its transaction with it, and the chunk is run again from the
start. So a chunk's records exist once, whatever the broker re-delivers.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.events import ActiveTree, event_fire, runnable_trees, values_with_defaults
from eventtree.engine.form_cache import form_cached
from eventtree.engine.walker import NodeFailure
from eventtree.inputs.imports import Problem, row_clean
from eventtree.models import ChunkState, Event, Field, Form, Import, ImportChunk, ImportState, Record
from eventtree.signals import record_event

logger = logging.getLogger(__name__)

# Attempts of a chunk (a worker that raised, or died in it) before it is marked failed.
CHUNK_ATTEMPTS = 3
WORKER_GONE = "The worker running this chunk stopped before it finished."


class ChunkPermanentError(Exception):
    """Another attempt of the chunk could not succeed (a column's field is gone)."""


def import_chunk_run(chunk_id: int, *, hand_over: bool = True) -> ChunkState | None:
    """Run a chunk if it is unfinished: its valid rows become records, each firing the form's
    `imported` trees (their synchronous phase in the chunk's transaction, their blocks handed to
    the workers when it commits); a row that does not validate, or whose trees refuse it, is a
    problem of the chunk with its line, and the others go on. Then the next chunk of the import
    is handed over (unless `hand_over` is false: the caller runs the chunks itself, one after
    another). Returns the chunk's state afterwards, or None when this call did not run it.
    """
    chunk = chunk_claim(chunk_id)
    if chunk is None:
        return None
    if chunk.attempts > CHUNK_ATTEMPTS:  # every earlier attempt's worker died in it
        return chunk_attempt_failed(chunk, WORKER_GONE, final=True, hand_over=hand_over)
    try:
        # Read and validated before the transaction: on SQLite it holds the one write lock.
        form = form_cached(form_id=chunk.bulk_import.form_id)
        fields = {field.name: field for field in form.fields.all()}
        gone = [name for name in chunk.bulk_import.columns if name not in fields]
        if gone:
            raise ChunkPermanentError(f"The form no longer has the field “{gone[0]}” that a column fills.")
        valid, problems = rows_validate(chunk.rows, columns=chunk.bulk_import.columns, fields=fields)
        trees = runnable_trees(form.pk, Event.IMPORTED)
        with transaction.atomic():
            now = timezone.now()
            if not ImportChunk.objects.filter(pk=chunk.pk, state=ChunkState.RUNNING, attempts=chunk.attempts).update(
                    state=ChunkState.DONE, finished_at=now):
                return None  # taken over by another attempt
            problems += records_create(chunk, form, valid, trees)
            problems.sort(key=lambda problem: problem["line"])
            created, refused = len(chunk.rows) - len(problems), len(problems)
            ImportChunk.objects.filter(pk=chunk.pk).update(created=created, refused=refused, problems=problems,
                                                           rows=[], last_error="")
            import_settle(chunk.bulk_import_id, created=created, refused=refused, hand_over=hand_over)
        return ChunkState.DONE
    except ChunkPermanentError as error:
        return chunk_attempt_failed(chunk, str(error), final=True, hand_over=hand_over)
    except Exception as exc:
        logger.exception("Import chunk %s raised", chunk.pk)
        return chunk_attempt_failed(chunk, f"{type(exc).__name__}: {exc}", hand_over=hand_over)


def chunk_claim(chunk_id: int) -> ImportChunk | None:
    """Take an unfinished chunk for this attempt (one conditional UPDATE, committed at once, so
    that staff see it running and a worker that dies in it still counts an attempt); None if it
    is finished. A chunk another worker runs now cannot be taken: that worker's transaction holds
    it (its row, or SQLite's write lock) until it commits it done."""
    claimed = ImportChunk.objects.filter(pk=chunk_id, state__in=ChunkState.unfinished()).update(
        state=ChunkState.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now(), woken_at=Now())
    if not claimed:
        return None
    return ImportChunk.objects.select_related("bulk_import").get(pk=chunk_id)


def rows_validate(rows: list[list[Any]], *, columns: list[str], fields: dict[str, Field]
                  ) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """Each row's values as the public form validates them: (line, values) of the valid rows,
    and a problem for each other one."""
    valid: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    for line, cells in rows:
        values, errors = row_clean(cells, columns=columns, fields=fields)
        if errors:
            problems.append({"line": line, "errors": errors})
        else:
            valid.append((line, values))
    return valid, problems


def records_create(chunk: ImportChunk, form: Form, valid: list[tuple[int, dict[str, Any]]],
                   trees: list[ActiveTree]) -> list[Problem]:
    """The records of the valid rows, firing `imported` for each; the rows a tree refused (a
    synchronous failure without an error port) are rolled back to their own savepoint and
    returned as problems. Call inside the chunk's transaction."""
    fields = list(form.fields.all())
    records = [Record(form=form, values=values_with_defaults(fields, values), import_chunk_id=chunk.pk)
               for _, values in valid]
    if not trees:
        # Nothing runs for them: one INSERT for the whole chunk.
        for record in Record.objects.bulk_create(records):
            record_event.send(sender=Record, record=record, event=Event.IMPORTED, runs=[])
        return []
    problems: list[Problem] = []
    for (line, _), record in zip(valid, records):
        try:
            with transaction.atomic():
                record.save(force_insert=True)
                _, runs = event_fire(record=record, event=Event.IMPORTED, visitor=False, trees=trees)
                record_event.send(sender=Record, record=record, event=Event.IMPORTED, runs=runs)
        except NodeFailure as failure:
            logger.info("Import chunk %s, line %s refused at node %s: %s", chunk.pk, line,
                        failure.node.pk if failure.node else None, failure.detail)
            problems.append({"line": line, "errors": [f"Refused by the form's trees: {failure.public_message}"]})
    return problems


def import_settle(import_id: int, *, created: int, refused: int, hand_over: bool) -> None:
    """Count a finished chunk into its import, which is finished with its last chunk (failed if
    one chunk failed), and hand the next chunk over. Call inside the chunk's transaction, last:
    on PostgreSQL the import's row stays locked until it commits."""
    Import.objects.filter(pk=import_id).update(created=F("created") + created, refused=F("refused") + refused,
                                               chunks_finished=F("chunks_finished") + 1)
    failed = ImportChunk.objects.filter(bulk_import=OuterRef("pk"), state=ChunkState.FAILED)
    Import.objects.filter(pk=import_id, state=ImportState.RUNNING, chunks_finished=F("chunk_count")).update(
        state=Case(When(Exists(failed), then=Value(ImportState.FAILED)), default=Value(ImportState.DONE)),
        finished_at=timezone.now())
    if hand_over:
        dispatch.import_chunks_enqueue(import_id, limit=1)


def chunk_attempt_failed(chunk: ImportChunk, error: str, *, final: bool = False, hand_over: bool = True
                         ) -> ChunkState | None:
    """After the attempt's rollback: give the chunk back for another attempt (handed over again
    at once, unless `hand_over` is false), or mark it failed after its last one, or at once when
    it is `final`. None if another attempt took it over meanwhile."""
    mine = ImportChunk.objects.filter(pk=chunk.pk, state=ChunkState.RUNNING, attempts=chunk.attempts)
    with transaction.atomic():
        if final or chunk.attempts >= CHUNK_ATTEMPTS:
            if not mine.update(state=ChunkState.FAILED, last_error=error, finished_at=timezone.now()):
                return None
            import_settle(chunk.bulk_import_id, created=0, refused=0, hand_over=hand_over)
            return ChunkState.FAILED
        if not mine.update(state=ChunkState.PENDING, last_error=error, woken_at=None):
            return None
        if hand_over:
            dispatch.import_chunks_enqueue(chunk.bulk_import_id, limit=1)
        return ChunkState.PENDING


def import_chunks_resend() -> int:
    """For the sweeper: hand over again the chunks of running imports whose task is presumed lost
    (woken or started longer ago than WAKE_LOST_SECONDS and unfinished: a worker that died, a
    broker that lost it), and the next ones of an import none of whose chunks is handed over (a
    hand-over refused by the broker). One indexed query when no import runs."""
    lost_before = Now() - timedelta(seconds=settings.EVENTTREE["WAKE_LOST_SECONDS"])
    at_once = settings.EVENTTREE["IMPORT_CHUNKS_AT_ONCE"]
    woken = 0
    for import_id in Import.objects.filter(state=ImportState.RUNNING).values_list("pk", flat=True):
        unfinished = ImportChunk.objects.filter(bulk_import_id=import_id, state__in=ChunkState.unfinished())
        woken += len(dispatch.import_chunks_wake(unfinished.filter(woken_at__lte=lost_before), limit=at_once))
        handed_over = unfinished.filter(woken_at__isnull=False).count()
        if handed_over < at_once:
            woken += len(dispatch.import_chunks_wake(unfinished.filter(woken_at__isnull=True),
                                                     limit=at_once - handed_over))
    return woken


# What the page of an import given up says (engine/sweeper.py).
READ_STOPPED = ("The file was not read to its end: the process reading it stopped, as when the server "
                "restarts during an upload. Nothing was imported; upload the file again.")


def imports_abandoned_fail() -> int:
    """For the sweeper: fail each import still *validating* longer than IMPORT_READ_STALE_SECONDS
    after it started (the process reading its file has stopped) and delete the chunks it had
    written, which never ran. The read itself, should it still go on, finds its import given up
    (services/imports.py). One indexed query when no import is being read."""
    stale_before = Now() - timedelta(seconds=settings.EVENTTREE["IMPORT_READ_STALE_SECONDS"])
    failed = 0
    for import_id in Import.objects.filter(state=ImportState.VALIDATING, created_at__lt=stale_before
                                           ).values_list("pk", flat=True):
        with transaction.atomic():
            if Import.objects.filter(pk=import_id, state=ImportState.VALIDATING).update(
                    state=ImportState.FAILED, error=READ_STOPPED, finished_at=timezone.now()):
                ImportChunk.objects.filter(bulk_import_id=import_id).delete()
                failed += 1
                logger.warning("Import %s was given up: its file was never read to its end", import_id)
    return failed
