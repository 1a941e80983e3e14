from __future__ import annotations

from django.conf import settings
from django.db import models

from eventtree.models.forms import Form


class ImportState(models.TextChoices):
    VALIDATING = "validating", "Validating"  # the file is being read: header checked, rows put in chunks
    RUNNING = "running", "Running"  # its chunks are handed to workers, some not finished
    DONE = "done", "Done"  # every chunk finished (rows may have been refused)
    FAILED = "failed", "Failed"  # every chunk finished, and one could not be imported after its attempts

    @property
    def is_finished(self) -> bool:
        return self in (ImportState.DONE, ImportState.FAILED)


class Import(models.Model):
    """A CSV file imported into a form (DESIGN §3.7): its rows wait in chunks, which workers turn
    into records, one chunk a task and a transaction. The counts grow as chunks finish."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    # The form's field that each column of the file fills, in the file's order.
    columns = models.JSONField(default=list)
    state = models.CharField(max_length=12, choices=ImportState.choices, default=ImportState.VALIDATING)
    rows = models.PositiveIntegerField(default=0)  # data rows in the file (blank lines left out)
    created = models.PositiveIntegerField(default=0)  # records created by the finished chunks
    refused = models.PositiveIntegerField(default=0)  # rows refused by the finished chunks
    chunk_size = models.PositiveIntegerField()
    chunk_count = models.PositiveIntegerField(default=0)
    chunks_finished = models.PositiveIntegerField(default=0)
    # Why the whole import stopped, when it did not get to its chunks (for staff).
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The sweeper's look-up of imports under way (engine/imports.py).
        indexes = [models.Index(fields=["state"], name="import_state")]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.file_name} into {self.form_id}"


class ChunkState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for a worker
    RUNNING = "running", "Running"  # a worker took it; run again from the start if that worker died
    DONE = "done", "Done"  # its records were created, in the transaction that marked it done
    FAILED = "failed", "Failed"  # every attempt raised; none of its records exist

    @property
    def is_finished(self) -> bool:
        return self in (ChunkState.DONE, ChunkState.FAILED)

    @classmethod
    def unfinished(cls) -> list[ChunkState]:
        return [cls.PENDING, cls.RUNNING]


class ImportChunk(models.Model):
    """Up to `Import.chunk_size` rows of the file, as read (cells are text), waiting for a worker.

    Its records are created in one transaction that also marks it done, so a chunk run again
    (a repeated task, a worker that died) finds it done, or finds that transaction rolled back and
    starts over: its records never exist twice. The rows are emptied once it is done.
    """

    bulk_import = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()  # 1, 2, … in the file's order
    first_line = models.PositiveIntegerField()  # the file's line of its first row (the header is line 1)
    last_line = models.PositiveIntegerField()  # the line its last row starts on
    # [[line, [cell, …]], …]: each row with the file's line it starts on.
    rows = models.JSONField(default=list)
    row_count = models.PositiveIntegerField()
    state = models.CharField(max_length=8, choices=ChunkState.choices, default=ChunkState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # The refused rows: [{"line": 12, "errors": ["email: Enter a valid email address."]}, …]
    problems = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)  # why the last attempt raised (for staff)
    # When its task was last handed to the broker or taken by a worker; None while it waits its
    # turn. The sweeper re-sends a task presumed lost (engine/imports.py).
    woken_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["bulk_import", "number"]
        constraints = [
            models.UniqueConstraint(fields=["bulk_import", "number"], name="import_chunk_number_unique")
        ]
        indexes = [models.Index(fields=["bulk_import", "state", "woken_at"], name="import_chunk_wake")]

    def __str__(self) -> str:
        return f"Chunk {self.number} of import {self.bulk_import_id}"
