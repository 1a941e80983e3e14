"""`manage.py test_tree SLUG [--tree NAME] [--event E] --values JSON`: a test run (DESIGN §3.9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventtree.engine.testrun import Outcome, TestRunTrace, form_test_run, tree_test_run
from eventtree.inputs.testrun import sample_values_from_json
from eventtree.models import Event, EventTree, Form, Record


class Command(BaseCommand):
    help = (
        "Run a form's trees (their drafts) against a sample record as a dry run and print the trace as "
        "JSON. Nothing is saved, sent or queued. Exits 1 when the submit would be refused, a "
        "background block would fail, or the sample values are not valid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The slug of the form.")
        parser.add_argument("--tree", help="The name of one tree (active or not). Default: every active "
                                           "tree of the event in one run, as a submit fires them; their "
                                           "drafts, published or not (a tree never published does not run "
                                           "on a real submit).")
        parser.add_argument("--event", choices=Event.values,
                            help="The event that fires the trees (default: submitted, or the tree's own).")
        parser.add_argument("--values", default="{}",
                            help='The sample record\'s values as a JSON object, e.g. \'{"name": "Ada"}\'; '
                                 "@FILE reads them from a file. Only the form's public fields, as a submit.")
        parser.add_argument("--record", type=int, help="Run on this existing record of the form (with "
                                                       "--values, changed by them as an edit would be).")

    def handle(self, *args: Any, slug: str, tree: str | None, event: str | None, values: str,
               record: int | None, **options: Any) -> None:
        form = Form.objects.filter(slug=slug).first()
        if form is None:
            raise CommandError(f"No form with slug {slug!r}.")
        existing = self.record_get(form, record)
        one_tree = self.tree_get(form, tree, event) if tree is not None else None
        sample, errors = sample_values_from_json(values=self.values_load(values), fields=list(form.fields.all()),
                                                 partial=existing is not None)
        if errors:
            self.trace_write(TestRunTrace(outcome=Outcome.INVALID, errors=errors))
            raise CommandError("The sample values are not valid:\n" + "\n".join(
                f"  {name}: {' '.join(messages)}" for name, messages in errors.items()))
        if one_tree is None:
            trace = form_test_run(form=form, event=event or Event.SUBMITTED, values=sample, record=existing)
            if not trace.steps and not trace.skipped:
                self.stderr.write(f"No active tree of {form.slug!r} fires on {event or Event.SUBMITTED}: nothing would run.")
        else:
            trace = tree_test_run(tree=one_tree, values=sample, record=existing, event=event)
        self.trace_write(trace)
        if Outcome(trace.outcome).is_failure:
            raise CommandError(f"{trace.summary}: {trace.message}" if trace.message else trace.summary)

    def values_load(self, text: str) -> Any:
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot read {text[1:]}: {exc.strerror}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--values is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None

    def record_get(self, form: Form, record_id: int | None) -> Record | None:
        if record_id is None:
            return None
        record = Record.objects.filter(form=form, pk=record_id).select_related("form").first()
        if record is None:
            raise CommandError(f"The form {form.slug!r} has no record {record_id}.")
        return record

    def tree_get(self, form: Form, name: str, event: str | None) -> EventTree:
        trees = EventTree.objects.filter(form=form, name=name).select_related("form")
        if event:
            trees = trees.filter(event=event)
        found = list(trees[:2])
        if len(found) == 1:
            return found[0]
        if found:
            raise CommandError(f"The form {form.slug!r} has several trees named {name!r}: add --event.")
        names = ", ".join(repr(tree.name) for tree in form.trees.order_by("position", "id")) or "none"
        raise CommandError(f"The form {form.slug!r} has no tree named {name!r}"
                           f"{f' for the event {event}' if event else ''} (its trees: {names}).")

    def trace_write(self, trace: TestRunTrace) -> None:
        self.stdout.write(json.dumps(trace.as_json(), indent=2, ensure_ascii=False, default=str))
