"""django-q2 entry points. They take ids, call the engine and hold no logic."""

from __future__ import annotations

from eventtree.engine.alerts import alert_digest_send
from eventtree.engine.blocks import block_run
from eventtree.engine.imports import import_chunk_run
from eventtree.engine.outbox import outbox_deliver
from eventtree.engine.scheduled import scheduled_tick_run
from eventtree.engine.sweeper import sweep as sweep_blocks


def run_block(block_id: int) -> str | None:
    state = block_run(block_id)
    return state and str(state)


def deliver_outbox(message_id: int) -> bool:
    return outbox_deliver(message_id)


def sweep() -> str:
    return str(sweep_blocks())


def alert_digest(tree_id: int) -> int:
    return alert_digest_send(tree_id)


def scheduled_tick(tree_id: int, tick: str | None = None) -> int:
    """A scheduled tree's cron tick; django-q2's schedule passes `tick`, the fire time it was
    due at (ISO 8601)."""
    return scheduled_tick_run(tree_id, at=tick)


def run_import_chunk(chunk_id: int) -> str | None:
    state = import_chunk_run(chunk_id)
    return state and str(state)
