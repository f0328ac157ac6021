"""Thread-safe in-memory stores (one process; nothing survives a restart).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from authcore._fork import lock as fork_safe_lock
from authcore._options import int_option
from authcore.apikeys import KeyRecord
from authcore.errors import NotFound, StoreError
from authcore.onetime import check_key, check_times
from authcore.stores._oauth_memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryClientStore,
    MemoryGrantStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from authcore import ratelimit
    from authcore.apikeys import KeyChange, Usage
    from authcore.clock import Instant
    from authcore.ratelimit import GCRA

__all__ = [
    "AsyncMemoryClientStore",
    "AsyncMemoryGrantStore",
    "MemoryClientStore",
    "MemoryGrantStore",
    "MemoryKeyStore",
    "MemoryOneTimeStore",
    "MemoryRateLimitStore",
]

_PRUNE_EVERY: Final = 1024
DEFAULT_MAX_ENTRIES: Final = 1_000_000
"""Default capacity of :class:`MemoryOneTimeStore`."""


class MemoryKeyStore:
    """A :class:`~authcore.apikeys.KeyStore` in a dict guarded by a lock.

    Reads take no lock (a dict read is atomic and records are immutable values); every write
    holds the lock for its whole read-modify-write.

    Attributes:
        get: Return the record with this key id, or ``None``: the dict's own lookup, with no
            Python frame around it (every verification calls it).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_lock", "_records", "get")

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._lock = fork_safe_lock()
        self.get: Callable[[str], KeyRecord | None] = self._records.get

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        with self._lock:
            records = [r for r in self._records.values() if r.owner == owner]
        return tuple(sorted(records, key=lambda r: (r.created_at, r.key_id)))

    def add(self, record: KeyRecord) -> None:
        """Insert a new record.

        Raises:
            StoreError: If a record with this id exists.
        """
        with self._lock:
            if record.key_id in self._records:
                raise StoreError("a key with this id exists")
            self._records[record.key_id] = record

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        """Atomically apply ``change`` to a record and save what it returns.

        Raises:
            NotFound: If ``key_id`` does not exist.
        """
        with self._lock:
            current = self._records.get(key_id)
            if current is None:
                raise NotFound("no key with this id")
            written = tuple(change(current))
            for record in written:
                if not isinstance(record, KeyRecord):
                    raise StoreError("a change must return key records")
            for record in written:
                self._records[record.key_id] = record
            return written

    def consume_use(self, key_id: str) -> int | None:
        """Atomically take one use; ``None`` when none are left or the key is gone."""
        with self._lock:
            current = self._records.get(key_id)
            if current is None or current.remaining_uses is None:
                return None
            if current.remaining_uses <= 0:
                return None
            left = current.remaining_uses - 1
            self._records[key_id] = replace(current, remaining_uses=left)
            return left

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times (unknown ids are skipped)."""
        with self._lock:
            for key_id, used in usage.items():
                current = self._records.get(key_id)
                if current is None:
                    continue
                last = current.last_used_at
                self._records[key_id] = replace(
                    current,
                    use_count=current.use_count + used.count,
                    last_used_at=used.last_used_at
                    if last is None or used.last_used_at > last
                    else last,
                )

    def __len__(self) -> int:
        return len(self._records)


class MemoryRateLimitStore:
    """A thread-safe in-process :class:`~authcore.ratelimit.RateLimitStore`.

    Keys whose time has passed are pruned as it goes.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_calls", "_lock", "_tats")

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._lock = fork_safe_lock()
        self._calls = 0

    def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """Atomically take ``cost`` units of ``limit`` for ``key`` (see ``RateLimitStore``)."""
        with self._lock:
            self._calls += 1
            if self._calls % _PRUNE_EVERY == 0:
                self._tats = {k: v for k, v in self._tats.items() if v > now_ns}
            tat = self._tats.get(key)
            new_tat, decision = limit.step(
                tat if tat is not None and tat > now_ns else None, now_ns, cost
            )
            if new_tat is not None:
                self._tats[key] = new_tat
            return decision

    def reset(self, key: str) -> None:
        """Forget ``key``'s state."""
        with self._lock:
            self._tats.pop(key, None)

    def __len__(self) -> int:
        return len(self._tats)


class MemoryOneTimeStore:
    """A thread-safe, in-process :class:`~authcore.onetime.OneTimeStore`.

    Entries live in one dictionary plus a heap ordered by expiry; expired entries are dropped
    as new keys arrive.  Serves webhook replay protection, the JWT denylist and jti checks
    of one process; use :class:`~authcore.stores.sqlite.SQLiteOneTimeStore` when several
    processes must agree.

    Args:
        max_entries: The most unexpired keys kept.  When full, :meth:`add` raises
            :class:`~authcore.errors.StoreError` (failing closed) rather than forgetting a
            key that could then be replayed.

    Raises:
        ConfigurationError: If ``max_entries`` is not a positive int.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_entries", "_heap", "_lock", "_max_entries")

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max_entries = int_option(max_entries, "max_entries")
        self._entries: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = fork_safe_lock()

    def __len__(self) -> int:
        """Return the number of keys held (expired ones may not have been dropped yet)."""
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryOneTimeStore(entries={len(self)}, max_entries={self._max_entries})"

    def _purge(self, now: float) -> None:
        # Invariant: each key in _entries has exactly one heap item (a key is only added when
        # absent, and removed together with its item), so popping an item removes its key.
        heap, entries = self._heap, self._entries
        while heap and heap[0][0] <= now:
            del entries[heapq.heappop(heap)[1]]

    def add(self, key: str, *, expires_at: Instant, now: Instant) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Both times are aware datetimes or UNIX seconds.

        Raises:
            ConfigurationError: If ``key`` is not a storable key or a time is unusable.
            StoreError: If the store is full of unexpired keys.
        """
        check_key(key)
        expiry, current = check_times(expires_at, now)
        with self._lock:
            self._purge(current)
            if key in self._entries:  # unexpired: _purge() dropped every expired key
                return False
            if expiry <= current:  # already expired: nothing to remember, but it was new
                return True
            if len(self._entries) >= self._max_entries:
                raise StoreError("one-time store is full")
            self._entries[key] = expiry
            heapq.heappush(self._heap, (expiry, key))
            return True

    def contains(self, key: str, *, now: Instant) -> bool:
        """Whether ``key`` is recorded and unexpired at ``now``.

        Raises:
            ConfigurationError: If ``now`` is unusable.
        """
        current = check_times(now, now)[1]
        given: object = key  # untyped callers pass anything; a non-string can only miss
        expiry = self._entries.get(key) if isinstance(given, str) else None
        return expiry is not None and expiry > current
