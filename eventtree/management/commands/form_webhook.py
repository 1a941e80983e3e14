"""`manage.py form_webhook SLUG --rotate | --disable`: a form's webhook secret (DESIGN §3.13)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventtree.models import Form
from eventtree.services.webhooks import webhook_secret_disable, webhook_secret_rotate


class Command(BaseCommand):
    help = ("Give a form's webhook (POST /hooks/<slug>/) a new secret, printed once, or disable it. "
            "The old secret stops working at once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The slug of the form.")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--rotate", action="store_true", help="Make a new secret and print it.")
        action.add_argument("--disable", action="store_true", help="Remove the secret: every request is refused.")

    def handle(self, *args: Any, slug: str, rotate: bool, disable: bool, **options: Any) -> None:
        try:
            form = Form.objects.get(slug=slug)
        except Form.DoesNotExist:
            raise CommandError(f"No form with slug {slug!r}.") from None
        if disable:
            webhook_secret_disable(form=form)
            self.stdout.write(f"Webhook of form '{slug}' disabled.")
            return
        # Only the secret on stdout, so that a script can take it; the words go to stderr.
        self.stdout.write(webhook_secret_rotate(form=form))
        self.stderr.write(f"New webhook secret of form '{slug}' (shown once here; the builder's form page shows it too).")
