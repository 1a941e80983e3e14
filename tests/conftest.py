from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.utils import timezone

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # The caches are keyed by ids, which the test database reuses (a real database does not).
    from eventtree.engine.versions import BUILT_VERSIONS

    cache.clear()
    BUILT_VERSIONS.clear()
    yield
    cache.clear()
    BUILT_VERSIONS.clear()


@pytest.fixture
def drain_blocks(django_capture_on_commit_callbacks) -> Callable[..., list]:
    """Run every due pending block in this process, as a worker would, until none is left.

    `now` moves due times forward so that delayed blocks and retries run at once.
    """
    from eventtree.engine.blocks import block_run
    from eventtree.models import Block, BlockState, due_now

    def drain(*, include_future: bool = True, limit: int = 100) -> list:
        ran = []
        for _ in range(limit):
            pending = Block.objects.filter(state=BlockState.PENDING)
            if not include_future:
                pending = pending.filter(due_at__lte=timezone.now())
            block = pending.order_by("due_at", "id").first()
            if block is None:
                return ran
            if block.due_at > timezone.now():
                Block.objects.filter(pk=block.pk).update(due_at=due_now())
            with django_capture_on_commit_callbacks(execute=True):
                ran.append((block.pk, block_run(block.pk)))
        raise AssertionError("blocks kept coming back")

    return drain


@pytest.fixture
def qcluster(transactional_db, tmp_path):
    """A real worker cluster (two workers) on the test database."""
    from tests.workers import QCluster

    cluster = QCluster(workdir=tmp_path).start()
    yield cluster
    cluster.stop()
