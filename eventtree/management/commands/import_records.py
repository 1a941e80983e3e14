"""`manage.py import_records SLUG FILE.csv`: a CSV file into a form's records (DESIGN §3.7, §5)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from eventtree.engine.imports import import_chunk_run
from eventtree.models import Form, Import, ImportState
from eventtree.selectors_imports import import_failed_chunks, import_problems, import_unfinished_chunk_ids
from eventtree.services.imports import ImportRefused, import_create

# Seconds between two looks at an import that workers run; and without any progress for this
# long, the command says that a worker may be missing.
POLL_SECONDS = 1.0
QUIET_SECONDS = 15.0


class Command(BaseCommand):
    help = (
        "Import a CSV file (UTF-8; a header row naming the form's fields) into a form's records, "
        "in chunks, each firing the form's `imported` trees for its records. By default the chunks "
        "are handed to the workers (manage.py qcluster) and the command waits for them, printing "
        "the progress; --inline runs them in this process instead. Prints every refused row with "
        "its line, and exits 1 if any row was refused or part of the file could not be imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The slug of the form.")
        parser.add_argument("file", help="The CSV file.")
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--inline", action="store_true",
                         help="Run the chunks here, one after another, with no worker (the Background "
                              "and Delay blocks of the imported trees still wait for one).")
        how.add_argument("--no-wait", action="store_true",
                         help="Hand the chunks to the workers and return at once, printing the import's page.")
        parser.add_argument("--chunk-size", type=int, default=None,
                            help=f"Rows a chunk (default {settings.EVENTTREE['IMPORT_CHUNK_ROWS']}).")

    def handle(self, *args: Any, slug: str, file: str, inline: bool, no_wait: bool, chunk_size: int | None,
               **options: Any) -> None:
        form = Form.objects.filter(slug=slug).first()
        if form is None:
            raise CommandError(f"No form with slug {slug!r}.")
        if chunk_size is not None and chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            with open(file, "rb") as stream:
                bulk_import = import_create(form=form, stream=stream, file_name=Path(file).name,
                                            chunk_size=chunk_size, hand_over=not inline)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        except ImportRefused as refusal:
            raise CommandError("Nothing was imported:\n" + "\n".join(f"  {p}" for p in refusal.problems)) from None
        page = settings.EVENTTREE["BASE_URL"].rstrip("/") + reverse("builder:import", args=[bulk_import.pk])
        self.stdout.write(f"Import {bulk_import.pk}: {counted(bulk_import.rows, 'row')} in "
                          f"{counted(bulk_import.chunk_count, 'chunk')} of up to {bulk_import.chunk_size}; its page: {page}")
        if no_wait:
            return
        if inline:
            self.run_inline(bulk_import)
        else:
            self.wait(bulk_import)
        self.report(bulk_import)

    def run_inline(self, bulk_import: Import) -> None:
        # A chunk given back after an error (it raised) is run again, up to its attempts.
        while chunk_ids := import_unfinished_chunk_ids(import_id=bulk_import.pk):
            for chunk_id in chunk_ids:
                import_chunk_run(chunk_id, hand_over=False)
                self.progress_write(bulk_import)

    def wait(self, bulk_import: Import) -> None:
        shown, changed_at, hinted = None, time.monotonic(), False
        while True:
            counts = self.progress_read(bulk_import)
            if counts != shown:
                self.progress_write(bulk_import, read=False)
                shown, changed_at = counts, time.monotonic()
            elif not hinted and time.monotonic() - changed_at > QUIET_SECONDS:
                self.stderr.write("No chunk has finished for a while: is a worker running (manage.py qcluster)? "
                                  "Stopping this command does not stop the import; --inline runs one without workers.")
                hinted = True
            if ImportState(bulk_import.state).is_finished:
                return
            time.sleep(POLL_SECONDS)

    def progress_read(self, bulk_import: Import) -> tuple[int, int, int]:
        bulk_import.refresh_from_db(fields=["state", "chunks_finished", "created", "refused", "finished_at"])
        return bulk_import.chunks_finished, bulk_import.created, bulk_import.refused

    def progress_write(self, bulk_import: Import, *, read: bool = True) -> None:
        if read:
            self.progress_read(bulk_import)
        self.stdout.write(f"chunks {bulk_import.chunks_finished}/{bulk_import.chunk_count} · "
                          f"{bulk_import.created} created · {bulk_import.refused} refused")

    def report(self, bulk_import: Import) -> None:
        for problem in import_problems(import_id=bulk_import.pk):
            self.stdout.write(f"line {problem['line']}: {' '.join(problem['errors'])}")
        failed = list(import_failed_chunks(import_id=bulk_import.pk))
        for chunk in failed:
            self.stdout.write(f"lines {chunk.first_line}-{chunk.last_line}: not imported ({chunk.last_error})")
        not_imported = sum(chunk.row_count for chunk in failed)
        self.stdout.write(f"{bulk_import.get_state_display()}: {counted(bulk_import.created, 'record')} created, "
                          f"{counted(bulk_import.refused, 'row')} refused"
                          + (f", {counted(not_imported, 'row')} not imported" if failed else "") + ".")
        if bulk_import.refused or failed:
            raise CommandError(f"{counted(bulk_import.refused, 'row')} refused"
                               + (f", {counted(not_imported, 'row')} not imported" if failed else "")
                               + ": see the lines above.")


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
