from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.poll_stamps import run_changed
from eventtree.engine.templating import render_value
from eventtree.errors import ActionFailed
from eventtree.models import Block, Field, Flag, Node, OutboxMessage, OutboxState, Phase, Progress, Record, Run, Step

def flag_set(*, run_id: int, name: str, value: bool = True) -> None:
    """Set a flag of a run, created or updated: one statement."""
    Flag.objects.bulk_create([Flag(run_id=run_id, name=name, value=value)], update_conflicts=True,
                             unique_fields=["run", "name"], update_fields=["value", "updated_at"])


class ExternalCallPending(Exception):
    """A block's walk reached an external call (`RunContext.outbox_call`) with no recorded outcome.

    Not a failure: the block's runner rolls the walk back, makes the call outside its transaction
    (engine/outbox.py `outbox_call_make`, under `key`) and walks the block again, which then finds
    the outcome. The walker lets it through; nothing else may catch it.
    """

    def __init__(self, *, key: str, run_id: int, kind: str, payload: dict[str, Any]) -> None:
        super().__init__(key)
        self.key = key
        self.run_id = run_id
        self.kind = kind
        self.payload = payload


# Creates a record in another form and fires its `submitted` trees (the engine's, given to the
# context by whoever starts the walk, so that this module needs nothing above it).
RecordCreator = Callable[["RunContext", str, dict[str, Any]], Record]


@dataclass
class RunContext:
    """What an action sees of the run it belongs to, and what it may change.

    Steps are collected in memory and written by the walk's caller, so that a rolled-back
    block can still write the history of its failed attempt. Inside a block, the outbox messages
    written are collected too (`outbox`): the block's runner delivers them after its commit.
    This module imports no action: actions see the engine only through this class.

    A test run (`dry_run`, DESIGN §3.9) creates no block: the Background and Delay nodes the walk
    reaches are collected in `deferred` for its caller to walk next, and side effects are only
    described (`dry_outbox`), never written to the outbox.
    """

    run: Run
    record: Record
    phase: Phase
    attempt: int = 1
    block: Block | None = None
    record_creator: RecordCreator | None = None
    node: Node | None = None  # the node being executed
    steps: list[Step] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    blocks_pending: int = 0  # the pending blocks this walk made
    dry_run: bool = False
    deferred: list[Node] = field(default_factory=list)
    dry_outbox: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    _flags: dict[str, bool] | None = None
    _fields: dict[str, Field] | None = None
    _record_changed: bool = False

    @property
    def depth(self) -> int:
        """How many create_record actions led to this run (DESIGN §3.1)."""
        return self.run.depth

    # -- reading -----------------------------------------------------------------------------

    @property
    def flags(self) -> dict[str, bool]:
        if self._flags is None:
            self._flags = dict(self.run.flags.values_list("name", "value"))
        return self._flags

    def form_field(self, name: str) -> Field:
        if self._fields is None:
            self._fields = {field.name: field for field in self.record.form.fields.all()}
        try:
            return self._fields[name]
        except KeyError:
            raise ActionFailed(f"The form {self.record.form.slug!r} has no field {name!r}") from None

    def template_context(self, *, with_flags: bool = True) -> dict[str, Any]:
        values = self.record.values
        return {
            "record": {**values, "id": self.record.pk, "created_at": self.record.created_at},
            "run": {"id": self.run.pk, "tree": self.run.tree.name, "event": self.run.event},
            "flags": self.flags if with_flags else {},
        }

    def render(self, template: str) -> str:
        # The run's flags are read only for a template that names them (a query otherwise).
        return render_value(template, self.template_context(with_flags="flags" in template))

    # -- writing -----------------------------------------------------------------------------

    def record_update(self, values: dict[str, Any]) -> None:
        """Set record values, in memory: the walk writes the record once, when it ends
        (`record_flush`), however many actions set values. Inside a block the record row is
        already locked by the caller."""
        self.record.values = {**self.record.values, **values}
        self._record_changed = True

    def checkpoint(self) -> tuple[dict[str, Any], int, int]:
        """What this context holds in memory now, for `restore` after a savepoint's rollback."""
        return self.record.values, len(self.outbox), len(self.dry_outbox)

    def restore(self, checkpoint: tuple[dict[str, Any], int, int]) -> None:
        """Forget what was set in memory since `checkpoint`, as its savepoint rolled back the
        rows: the values, the outbox messages to deliver, and the flags read (read again)."""
        self.record.values, outbox, dry_outbox = checkpoint
        del self.outbox[outbox:], self.dry_outbox[dry_outbox:]
        self._flags = None

    def record_flush(self) -> None:
        """Write the values set since the last flush, if any: one UPDATE."""
        if self._record_changed:
            self.record.save(update_fields=["values", "updated_at"])
            self._record_changed = False

    def flag_set(self, name: str, value: bool = True) -> None:
        flag_set(run_id=self.run.pk, name=name, value=value)
        self.poll_changed()
        if self._flags is not None:
            self._flags[name] = value

    def progress_set(self, name: str, **values: Any) -> None:
        Progress.objects.update_or_create(run=self.run, name=name, defaults=values)
        self.poll_changed()

    def poll_changed(self) -> None:
        """What the submission's page shows changed. Not in the synchronous phase: its submission
        is made in this very transaction, so no page can have read it yet."""
        if self.phase != Phase.SYNC:
            run_changed(self.run)

    def outbox_add(self, *, kind: str, node: Node, payload: dict[str, Any]) -> OutboxMessage:
        """Write a side effect to perform once this transaction commits, once per step and attempt.

        In a test run nothing is written: the message is kept in `dry_outbox`, unsaved.
        """
        if self.dry_run:
            self.dry_outbox.append((node.pk, kind, payload))
            return OutboxMessage(run=self.run, kind=kind, payload=payload)
        block_part = f"b{self.block.pk}" if self.block else "sync"
        # Unique per step and attempt: a second write of it fails the attempt, never sends twice.
        message = OutboxMessage.objects.create(
            key=f"r{self.run.pk}:{block_part}:n{node.pk}:a{self.attempt}", run=self.run, kind=kind,
            payload=payload,
        )
        # A worker delivers right after its own commit; a request hands delivery to a worker.
        if self.block is not None:
            self.outbox.append(message)
        else:
            dispatch.outbox_enqueue(message.pk)
        return message

    def outbox_call(self, *, kind: str, node: Node, payload: dict[str, Any], tag: str) -> dict[str, Any]:
        """The outcome of a block's external call at `node` (http_request), made once per block and
        node whatever the attempt: its outbox key `r<run>:b<block>:n<node>:<tag>` names no attempt.

        Call in a block (not in a test run). The first time, this raises ExternalCallPending for
        the block's runner to make the call (`payload`) outside the block's transaction, so that
        its outbox row outlives the block's rollback; afterwards it returns the recorded outcome
        (`payload["response"]` of the row), or raises ActionFailed with the recorded error,
        `permanent` since no later attempt can change it (a staff retry can: services/runs.py).
        """
        key = f"r{self.run.pk}:b{self.block.pk}:n{node.pk}:{tag}"
        message = (OutboxMessage.objects.filter(key=key, state__in=[OutboxState.SENT, OutboxState.FAILED])
                   .only("state", "error", "payload").first())
        if message is None:
            raise ExternalCallPending(key=key, run_id=self.run.pk, kind=kind, payload=payload)
        if message.state == OutboxState.FAILED:
            raise ActionFailed(message.error, permanent=True)
        return message.payload.get("response") or {}

    def record_create(self, *, form_slug: str, values: dict[str, Any]) -> Record:
        """Create a record in another form, firing its `submitted` trees in this phase."""
        if self.record_creator is None:
            raise ActionFailed("create_record cannot run here")
        return self.record_creator(self, form_slug, values)

    def step_add(
        self,
        node: Node | None,
        *,
        label: str,
        status: str,
        started_at: datetime,
        error: str = "",
        output: str = "",
    ) -> None:
        self.steps.append(
            Step(
                run=self.run,
                block=self.block,
                node_key=node.pk if node else None,
                label=label[:200],
                phase=self.phase,
                attempt=self.attempt,
                status=status,
                started_at=started_at,
                finished_at=timezone.now(),
                error=error,
                output=output,
            )
        )
