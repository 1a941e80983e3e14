"""`manage.py import_form FILE [--replace] [--draft]`: import a form package and publish its trees
(DESIGN §3.10, §5)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventtree.services.packages import PackageInvalid, form_package_import, form_package_load


class Command(BaseCommand):
    help = "Import a form package (JSON): the form, its fields and its event trees."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The package file; - reads standard input.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Overwrite the form with the same slug: its fields, and the trees of the same names "
            "(each gets a new version; its runs are kept). Its other trees are made inactive.",
        )
        parser.add_argument(
            "--draft",
            action="store_true",
            help="Only replace the trees' drafts: publish nothing (new trees do not run until published).",
        )

    def handle(self, *args: Any, file: str, replace: bool, draft: bool, **options: Any) -> None:
        if file == "-":
            text = (options.get("stdin") or sys.stdin).read()
        else:
            try:
                text = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            data = form_package_load(text)
            form = form_package_import(data=data, replace=replace, draft=draft)
        except PackageInvalid as exc:
            hint = " (use --replace)" if exc.slug_taken else ""
            for problem in exc.problems:
                self.stderr.write(problem + hint)
            count = len(exc.problems)
            raise CommandError(
                f"{file}: nothing imported, {count} problem{'s' if count != 1 else ''}."
            ) from exc
        trees = len(data.get("trees", []))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported form '{form.slug}' with {trees} tree{'s' if trees != 1 else ''}"
                + (" as drafts, not published" if draft else ", published")
            )
        )
