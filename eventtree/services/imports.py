"""Starting a CSV import (DESIGN §3.7): the file is read as a stream and its rows put in chunks,
which workers then turn into records (engine/imports.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from eventtree.engine import dispatch
from eventtree.inputs.imports import header_columns, header_delimiter
from eventtree.models import Form, Import, ImportChunk, ImportState

# Chunks written to the database together, each batch in its own short transaction: what the
# reading of a file holds in memory, and how long it holds SQLite's write lock at a time.
CHUNKS_PER_WRITE = 10


class ImportRefused(Exception):
    """The file cannot be imported at all (its header, its encoding, no row): nothing was kept."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def import_create(
    *,
    form: Form,
    stream: BinaryIO,
    file_name: str,
    user: AbstractBaseUser | None = None,
    chunk_size: int | None = None,
    hand_over: bool = True,
) -> Import:
    """Read a CSV file (UTF-8, a byte order mark allowed) from `stream`, check its header against
    the form's fields, and put its rows in chunks of `chunk_size` rows (EVENTTREE_IMPORT_CHUNK_ROWS);
    then, once everything is written, hand the first chunks to the workers (unless `hand_over` is
    false: the caller runs them). The rows are checked by the chunks, not here.

    Memory stays flat whatever the file's size: rows are read and written a few chunks at a time.
    Raises ImportRefused, keeping nothing, when the header names an unknown field or lacks a
    required one, when the file is not UTF-8 CSV, or when it has no row. `stream` (bytes) is read
    from where it is, and left open.
    """
    size = chunk_size or settings.EVENTTREE["IMPORT_CHUNK_ROWS"]
    lines = lines_decode(stream)
    first = next(lines, "")
    if not first.strip():
        raise ImportRefused(["The file is empty: its first line should name the fields."])
    delimiter = header_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter), [])
    columns, problems = header_columns(header, list(form.fields.all()))
    if problems:
        raise ImportRefused(problems)
    bulk_import = Import.objects.create(form=form, created_by=user if user and user.is_authenticated else None,
                                        file_name=file_name[:255], columns=columns, chunk_size=size)
    try:
        rows, chunks = chunks_write(bulk_import, csv.reader(lines, delimiter=delimiter), width=len(columns))
        if not rows:
            raise ImportRefused(["The file has a header but no rows."])
    except BaseException:
        bulk_import.delete()
        raise
    with transaction.atomic():
        started = Import.objects.filter(pk=bulk_import.pk, state=ImportState.VALIDATING).update(
            state=ImportState.RUNNING, rows=rows, chunk_count=chunks)
        if started and hand_over:
            dispatch.import_chunks_enqueue(bulk_import.pk, limit=settings.EVENTTREE["IMPORT_CHUNKS_AT_ONCE"])
    if not started:
        # The sweeper gave the import up meanwhile (engine/imports.py): its chunks would never run.
        ImportChunk.objects.filter(bulk_import=bulk_import).delete()
        raise ImportRefused(["Reading the file took too long, and the import was given up: nothing was "
                             "imported. Upload the file again."])
    bulk_import.refresh_from_db()
    return bulk_import


def lines_decode(stream: BinaryIO) -> Iterator[str]:
    """The lines of `stream` as text, each with its line break (as the csv module wants them),
    without the byte order mark; ImportRefused names the first line that is not UTF-8."""
    for number, raw in enumerate(iter(stream.readline, b""), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportRefused([f"Line {number} is not UTF-8 text: save the file as CSV UTF-8."]) from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def chunks_write(bulk_import: Import, reader: Iterator[list[str]], *, width: int) -> tuple[int, int]:
    """Write the rows of `reader` (the file after its header) in chunks; return how many rows and
    chunks. A row keeps at most one cell more than the header has columns: enough to be refused."""
    rows = chunks = 0
    pending: list[ImportChunk] = []
    chunk_rows: list[list] = []

    def chunk_close() -> None:
        nonlocal chunks, chunk_rows
        chunks += 1
        pending.append(ImportChunk(bulk_import=bulk_import, number=chunks, rows=chunk_rows,
                                   row_count=len(chunk_rows), first_line=chunk_rows[0][0],
                                   last_line=chunk_rows[-1][0]))
        chunk_rows = []

    for line, cells in rows_read(reader):
        rows += 1
        chunk_rows.append([line, cells[:width + 1]])
        if len(chunk_rows) == bulk_import.chunk_size:
            chunk_close()
            if len(pending) == CHUNKS_PER_WRITE:
                ImportChunk.objects.bulk_create(pending)
                pending.clear()
    if chunk_rows:
        chunk_close()
    ImportChunk.objects.bulk_create(pending)
    return rows, chunks


def rows_read(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Each row that is not blank, with the file's line it starts on (the header is line 1; a
    quoted value may span lines). Raises ImportRefused where the file stops being CSV."""
    line = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRefused([f"Line {line}: the file could not be read as CSV ({exc})."]) from None
        if any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 2  # the reader counts from the line after the header
