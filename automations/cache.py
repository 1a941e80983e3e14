"""The shared caches, Django's with two changes: the embedded default's file-based cache is
culled now and then instead of at every write; the scale-out's Redis cache reuses its client.

Django's `FileBasedCache` lists every file of the cache before each write, to see whether it is
full: a write costs as much as the cache has entries, and once it holds `MAX_ENTRIES` it deletes a
third of them at random. The engine writes a short-lived mark at every change a poll shows (two a
block, engine/caching.py), so at Django's default of 300 entries those writes alone spent about
1 ms each listing files, and evicted the entries that are meant to stay (a form, a version) a few
times a second: a worker read its form from the database for most blocks.

Here a process culls at most once every `CULL_SECONDS` (option, default 30): expired files first,
then, if the cache still holds more than `MAX_ENTRIES`, random ones as Django does. Between culls
the cache may pass `MAX_ENTRIES` by what one process writes in that time.
"""

from __future__ import annotations

import random
import time

from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class FileCache(FileBasedCache):
    def __init__(self, dir: str, params: dict) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.cull_seconds = float(options.pop("CULL_SECONDS", 30))
        super().__init__(dir, {**params, "OPTIONS": options})
        self.culled_at = time.monotonic()

    def _cull(self) -> None:
        now = time.monotonic()
        if now - self.culled_at < self.cull_seconds:
            return
        self.culled_at = now
        files = []
        for name in self._list_cache_files():
            try:
                with open(name, "rb") as file:
                    if not self._is_expired(file):  # deletes the file when it has expired
                        files.append(name)
            except FileNotFoundError:
                pass  # removed by another process meanwhile
        if len(files) < self._max_entries:
            return
        if self._cull_frequency == 0:
            self.clear()
            return
        for name in random.sample(files, len(files) // self._cull_frequency):
            self._delete(name)


class ReusedRedisClient(RedisCacheClient):
    """Django's Redis cache client, keeping one `redis.Redis` per connection pool instead of
    making one at each operation: making one fills a table of ~170 response callbacks, which
    cost more than the round trip of a small read (~0.2 ms of a worker's CPU per cache read or
    forget). A `redis.Redis` is safe to share: each command takes a connection from the pool."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(DjangoRedisCache):
    """The scale-out's shared cache: Django's, with `ReusedRedisClient`."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusedRedisClient
