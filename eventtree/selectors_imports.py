"""Reads of the CSV import pages (DESIGN §3.7): a form's imports, and one import's progress with
its refused rows (a leaf: models only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from eventtree.models import ChunkState, Form, Import, ImportChunk, ImportState

# The refused rows an import's page lists, the first by line; the count says how many more.
PROBLEMS_SHOWN = 100
FAILED_CHUNKS_SHOWN = 20


@dataclass
class ImportProgress:
    bulk_import: Import
    state: ImportState
    problems: list[dict[str, Any]]  # the first PROBLEMS_SHOWN refused rows: {"line", "errors"}
    failed_chunks: list[ImportChunk]  # chunks not imported after their attempts (lines, last error)

    @property
    def problems_not_shown(self) -> int:
        return max(0, self.bulk_import.refused - len(self.problems))

    @property
    def percent(self) -> int:
        done, total = self.bulk_import.chunks_finished, self.bulk_import.chunk_count
        return round(100 * done / total) if total else 0


def import_list(*, form: Form) -> QuerySet[Import]:
    return Import.objects.filter(form=form).select_related("created_by").order_by("-created_at", "-id")


def import_progress(*, import_id: int) -> ImportProgress:
    """An import with its first refused rows and failed chunks: three queries, whatever its size."""
    bulk_import = get_object_or_404(Import.objects.select_related("form", "created_by"), pk=import_id)
    problems: list[dict[str, Any]] = []
    chunks = ImportChunk.objects.filter(bulk_import=bulk_import)
    # A chunk holds at least one problem: PROBLEMS_SHOWN chunks hold at least as many.
    for chunk_problems in chunks.filter(refused__gt=0).order_by("number").values_list("problems", flat=True)[:PROBLEMS_SHOWN]:
        problems.extend(chunk_problems[:PROBLEMS_SHOWN - len(problems)])
        if len(problems) >= PROBLEMS_SHOWN:
            break
    failed = list(import_failed_chunks(import_id=bulk_import.pk)
                  .only("number", "first_line", "last_line", "row_count", "last_error", "bulk_import_id")
                  [:FAILED_CHUNKS_SHOWN])
    return ImportProgress(bulk_import=bulk_import, state=ImportState(bulk_import.state), problems=problems,
                          failed_chunks=failed)


def import_problems(*, import_id: int) -> Iterator[dict[str, Any]]:
    """Every refused row of an import, by line, reading a few chunks at a time."""
    chunks = ImportChunk.objects.filter(bulk_import_id=import_id, refused__gt=0).order_by("number")
    for chunk_problems in chunks.values_list("problems", flat=True).iterator(chunk_size=20):
        yield from chunk_problems


def import_failed_chunks(*, import_id: int) -> QuerySet[ImportChunk]:
    return ImportChunk.objects.filter(bulk_import_id=import_id, state=ChunkState.FAILED).order_by("number")


def import_unfinished_chunk_ids(*, import_id: int) -> list[int]:
    return list(ImportChunk.objects.filter(bulk_import_id=import_id, state__in=ChunkState.unfinished())
                .order_by("number").values_list("pk", flat=True))
