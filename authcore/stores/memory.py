"""Thread-safe in-memory stores (one process; nothing survives a restart).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from authcore._apikeys._model import KeyRecord
from authcore.errors import NotFound, StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from authcore._apikeys._model import KeyChange, Usage

__all__ = ["MemoryKeyStore"]


class MemoryKeyStore:
    """A :class:`~authcore.apikeys.KeyStore` in a dict guarded by a lock.

    Reads take no lock (a dict read is atomic and records are immutable values); every write
    holds the lock for its whole read-modify-write.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_lock", "_records")

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with this key id, or ``None``."""
        return self._records.get(key_id)

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
