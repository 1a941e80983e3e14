"""`manage.py loaddemo [--admin]`: the demo forms and trees, including the reference tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

import eventtree
from eventtree.models import Form
from eventtree.services.packages import PackageInvalid, form_package_import, form_package_load

DEMO_DIR = Path(eventtree.__file__).resolve().parent / "demo"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"


class Command(BaseCommand):
    help = (
        "Load the demo forms and their trees. Forms already loaded are left alone (with their "
        "runs) unless --reset is given; records are always kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--admin",
            action="store_true",
            help="Also create (or reset) the superuser admin with password admin. Local development only.",
        )

        parser.add_argument(
            "--reset",
            action="store_true",
            help="Replace demo forms that exist already: their fields, and a new published version of "
            "each tree; records and run history are kept.",
        )

    def handle(self, *args: Any, admin: bool, reset: bool, **options: Any) -> None:
        paths = sorted(DEMO_DIR.glob("*.json"))
        if not paths:
            raise CommandError(f"No demo packages in {DEMO_DIR}.")
        with transaction.atomic():
            for path in paths:
                try:
                    data = form_package_load(path.read_text(encoding="utf-8"))
                    slug = data["form"]["slug"]
                    if not reset and Form.objects.filter(slug=slug).exists():
                        self.stdout.write(f"Form '{slug}' is already loaded (use --reset to replace it)")
                        continue
                    form = form_package_import(data=data, replace=reset)
                except PackageInvalid as exc:
                    raise CommandError(f"{path.name}:\n{exc}") from exc
                trees = form.trees.count()
                self.stdout.write(
                    f"Loaded form '{form.slug}' ({form.name}) with {trees} tree{'s' if trees != 1 else ''}"
                )
            if admin:
                self.admin_reset()

    def admin_reset(self) -> None:
        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: ADMIN_USERNAME}
        )
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(ADMIN_PASSWORD)
        user.save()
        self.stdout.write(f"{'Created' if created else 'Reset'} superuser '{ADMIN_USERNAME}'.")
        self.stderr.write(
            self.style.WARNING(
                f"Warning: the superuser '{ADMIN_USERNAME}' has the password '{ADMIN_PASSWORD}'. "
                "This is for local development only; never use --admin on a server others can reach."
            )
        )
