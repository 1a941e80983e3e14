"""`manage.py export_form SLUG [-o FILE]`: write a form package (DESIGN §5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventtree.models import Form
from eventtree.services.packages import form_package_export


class Command(BaseCommand):
    help = "Export a form, its fields and its event trees as a form package (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The slug of the form.")
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE, not to stdout.")

    def handle(self, *args: Any, slug: str, output: str | None, **options: Any) -> None:
        try:
            form = Form.objects.get(slug=slug)
        except Form.DoesNotExist:
            raise CommandError(f"No form with slug {slug!r}.") from None
        text = json.dumps(form_package_export(form=form), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}") from exc
        self.stdout.write(f"Exported form '{slug}' to {output}")
