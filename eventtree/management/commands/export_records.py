"""`manage.py export_records SLUG`: a form's records as JSON lines (DESIGN §5)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventtree.models import Form, Record


class Command(BaseCommand):
    help = 'Write the records of a form to stdout, oldest first, one {"id", "created", "values"} a line.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The slug of the form.")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        if not Form.objects.filter(slug=slug).exists():
            raise CommandError(f"No form with slug {slug!r}.")
        records = (
            Record.objects.filter(form__slug=slug)
            .order_by("created_at", "id")
            .values_list("id", "created_at", "values")
        )
        for record_id, created_at, values in records.iterator(chunk_size=1000):
            line = {"id": record_id, "created": created_at.isoformat(), "values": values}
            self.stdout.write(json.dumps(line, ensure_ascii=False))
