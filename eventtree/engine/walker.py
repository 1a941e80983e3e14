"""The walk of a tree's nodes (DESIGN §3.2, §3.3, §3.4).

Actions and Conditions run now; Background and Delay nodes become pending blocks: those due at
once are handed to the workers when the surrounding transaction commits, the others by the
timers (engine/timers.py) at their due time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from eventtree.errors import ActionFailed
from eventtree.actions.registry import UnknownAction, registry
from eventtree.engine import dispatch
from eventtree.engine.conditions import condition_holds, describe
from eventtree.engine.context import ExternalCallPending, RunContext
from eventtree.engine.poll_stamps import run_changed
from eventtree.kinds import kind_registry, node_label
from eventtree.models import Block, BlockState, Node, NodeKind, StepStatus, due_now

logger = logging.getLogger(__name__)

NEUTRAL_MESSAGE = "Your submission could not be processed. Please try again later."


class NodeFailure(Exception):
    """A node failed with no error port to handle it: the surrounding transaction must roll back."""

    def __init__(
        self, node: Node | None, detail: str, public_message: str | None = None, *, permanent: bool = False
    ) -> None:
        super().__init__(detail)
        self.node = node
        self.detail = detail
        self.public_message = public_message or NEUTRAL_MESSAGE
        self.permanent = permanent  # another attempt cannot succeed: a block is not retried


def walk(nodes: list[Node], context: RunContext) -> None:
    """Walk `nodes` in order, then write the record once with every value the walk set. Call
    inside `atomic`; raises NodeFailure on an unhandled failure (the caller rolls back)."""
    walk_nodes(nodes, context)
    context.record_flush()


def walk_nodes(nodes: list[Node], context: RunContext) -> None:
    for node in nodes:
        if node.kind == NodeKind.ACTION:
            action_execute(node, context)
        elif node.kind == NodeKind.CONDITION:
            started_at = timezone.now()
            try:
                holds = condition_holds(node.config, context.record.values)
            except (KeyError, TypeError, ValueError) as exc:
                detail = f"Invalid condition: {exc}"
                context.step_add(node, label=node_label(node), status=StepStatus.FAILED,
                                 started_at=started_at, error=detail)
                raise NodeFailure(node, detail) from exc
            context.step_add(
                node,
                label=node_label(node),
                status=StepStatus.OK if holds else StepStatus.SKIPPED,
                started_at=started_at,
                output=f"{describe(node.config)}: {'yes' if holds else 'no'}",
            )
            if holds:
                walk_nodes(node.child_nodes, context)
        elif node.kind in kind_registry and kind_registry.get(node.kind).runs_later:
            block_defer(node, context)
        else:
            raise NodeFailure(node, f"Unknown node kind {node.kind!r}")


def action_execute(node: Node, context: RunContext) -> None:
    started_at = timezone.now()
    context.node = node
    error_port = node.child_nodes
    before = context.checkpoint()
    try:
        action = registry.get(node.action)
        config = node_config(node, action)
        if error_port:
            # A savepoint, so that a handled failure leaves the transaction usable.
            with transaction.atomic():
                output = action.run(context, config)
        else:
            output = action.run(context, config)
    except ExternalCallPending:
        raise  # not a failure: the block's runner makes the call and walks again (engine/blocks.py)
    except (ActionFailed, UnknownAction) as exc:
        failure = exc
        public_message = getattr(exc, "public_message", None)
        permanent = getattr(exc, "permanent", False)
    except Exception as exc:  # an unexpected error of an action: its detail goes to the log only
        logger.exception("Action %s (node %s) raised", node.action, node.pk)
        failure = exc
        public_message = None
        permanent = False
    else:
        context.step_add(node, label=node_label(node), status=StepStatus.OK,
                         started_at=started_at, output=str(output or ""))
        return
    finally:
        context.node = None
    detail = getattr(failure, "detail", None) or f"{type(failure).__name__}: {failure}"
    context.step_add(node, label=node_label(node), status=StepStatus.FAILED,
                     started_at=started_at, error=detail,
                     output="handled by its error port" if error_port else "")
    if not error_port:
        raise NodeFailure(node, detail, public_message, permanent=permanent)
    context.restore(before)  # what the failed action did is rolled back with its savepoint
    walk_nodes(error_port, context)


def node_config(node: Node, action) -> dict:
    """The action's cleaned config, kept on the node: a published version's nodes are built once
    per process and never change, so their configs are cleaned once, not at every run."""
    cleaned = getattr(node, "cleaned_config", None)
    if cleaned is None:
        cleaned = node.cleaned_config = action.clean_config(node.config)
    return dict(cleaned)


def block_defer(node: Node, context: RunContext) -> Block | None:
    """Create the pending block of a Background or Delay node, woken when it is due
    (`dispatch.blocks_enqueue`).

    In a test run no block is made: the node goes to `context.deferred`, for the caller to walk.
    """
    started_at = timezone.now()
    due_at, note = due_time(node, context)
    if context.dry_run:
        if due_at:
            context.deferred.append(node)
        context.step_add(node, label=node_label(node), status=StepStatus.DEFERRED, started_at=started_at,
                         output=note or f"would run at {timezone.localtime(due_at):%Y-%m-%d %H:%M:%S %Z}")
        return None
    block = Block.objects.create(
        run=context.run,
        node_key=node.pk,
        label=node_label(node),
        due_at=due_at or started_at,
        max_attempts=context.run.tree.max_attempts,
        state=BlockState.PENDING if due_at else BlockState.CANCELLED,
        finished_at=None if due_at else started_at,
        last_error=note,
    )
    if due_at:
        context.blocks_pending += 1
        dispatch.blocks_enqueue([block])
    if context.block is not None:  # a block made in a later phase shows on a page polled already
        run_changed(context.run)
    context.step_add(node, label=node_label(node), status=StepStatus.DEFERRED,
                     started_at=started_at,
                     output=note or f"block {block.pk} due {due_at:%Y-%m-%d %H:%M:%S %Z}")
    return block


def due_time(node: Node, context: RunContext) -> tuple[datetime | None, str]:
    """When a block of this node is due; None, with the reason, when it can never be."""
    return kind_registry.get(node.kind).due_at(node.config or {}, context.record.values, due_now())
