"""In-memory OAuth stores: clients, and grants (artefacts and families) with atomic apply.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final, TypeVar, cast

from authcore._fork import lock as fork_safe_lock
from authcore._options import int_option
from authcore.clock import as_unix
from authcore.errors import ConfigurationError, StoreError
from authcore.oauth import (
    Artefact,
    ClientRecord,
    Effect,
    Family,
    Insert,
    RevokeFamily,
    SaveFamily,
    Update,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from authcore.clock import Instant

__all__ = [
    "AsyncMemoryClientStore",
    "AsyncMemoryGrantStore",
    "MemoryClientStore",
    "MemoryGrantStore",
]

T = TypeVar("T")

PURGE_BATCH: Final = 1000
"""Rows a database store's ``purge`` deletes per transaction, by default."""
_MAX_PURGE_BATCH: Final = 1_000_000


class MemoryClientStore:
    """A :class:`~authcore.oauth.ClientStore` over a dict (thread-safe).

    Args:
        clients: The initial registrations.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_clients", "_lock")

    def __init__(self, clients: Iterable[ClientRecord] = ()) -> None:
        self._clients: dict[str, ClientRecord] = {}
        self._lock = fork_safe_lock()
        if isinstance(cast("object", clients), (ClientRecord, str, bytes)):
            raise ConfigurationError(
                "MemoryClientStore takes a list of ClientRecord: [client, ...]"
            )
        try:
            records = list(clients)
        except TypeError:
            raise ConfigurationError(
                "MemoryClientStore takes a list of ClientRecord: [client, ...]"
            ) from None
        for client in records:
            self.add(client)

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        return self._clients.get(client_id) if isinstance(cast("object", client_id), str) else None

    def add(self, client: ClientRecord) -> None:
        """Register ``client`` (replacing a registration with the same id)."""
        if not isinstance(client, ClientRecord):
            raise ConfigurationError("expected a ClientRecord")
        with self._lock:
            self._clients[client.client_id] = client


class MemoryGrantStore:
    """A :class:`~authcore.oauth.GrantStore` in dicts; :meth:`apply` holds one lock.

    Preconditions are checked and writes made under the same lock, so of two concurrent
    redemptions of one code exactly one applies.  Nothing survives the process.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_families", "_lock", "_records")

    def __init__(self) -> None:
        self._records: dict[str, Artefact] = {}
        self._families: dict[str, Family] = {}
        self._lock = fork_safe_lock()

    def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        return self._records.get(digest) if isinstance(cast("object", digest), str) else None

    def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        return self._families.get(family_id) if isinstance(cast("object", family_id), str) else None

    def apply(self, effects: Sequence[Effect]) -> bool:  # noqa: C901 - one branch per effect
        """Apply every effect or none; ``False`` when a precondition fails."""
        with self._lock:
            records: dict[str, Artefact] = {}
            families: dict[str, Family] = {}

            def record(key: str) -> Artefact | None:
                return records[key] if key in records else self._records.get(key)

            def family(key: str) -> Family | None:
                return families[key] if key in families else self._families.get(key)

            for effect in effects:
                if isinstance(effect, Insert):
                    if record(effect.record.digest) is not None:
                        return False
                    records[effect.record.digest] = effect.record
                elif isinstance(effect, Update):
                    current = record(effect.record.digest)
                    if (
                        current is None
                        or current.version != effect.expected_version
                        or type(current) is not type(effect.record)  # a code never becomes a token
                    ):
                        return False
                    records[effect.record.digest] = effect.record
                elif isinstance(effect, SaveFamily):
                    current_family = family(effect.family.family_id)
                    expected = None if current_family is None else current_family.version
                    if expected != effect.expected_version:
                        return False
                    families[effect.family.family_id] = effect.family
                elif isinstance(effect, RevokeFamily):
                    families[effect.family_id] = revoked_family(family(effect.family_id), effect)
                else:
                    raise StoreError(f"unknown effect {type(effect).__name__}")
            self._records.update(records)
            self._families.update(families)
            return True

    def purge(self, *, before: Instant, batch_size: int = PURGE_BATCH) -> int:
        """Delete what expired before ``before``: records, then families left without records.

        Keep a margin: a code deleted too early turns a replay into "unknown code", which
        no longer revokes the grant.  A family goes only once its own end (a revoked
        tombstone's: its revocation) is before ``before`` and no record of it is left:
        every path to a family starts from one of its records, so it is unreachable then.

        Args:
            before: The cut-off: an aware datetime or UNIX seconds.
            batch_size: Checked as the database stores check it; a memory store deletes in
                one pass (it has no transactions to keep short).

        Returns:
            How many records and families were deleted.

        Raises:
            ConfigurationError: If ``before`` is not an instant or ``batch_size`` is invalid.
        """
        cutoff = purge_cutoff(before)
        check_batch_size(batch_size)
        with self._lock:
            stale = [k for k, r in self._records.items() if r.expires_at < cutoff]
            for key in stale:
                del self._records[key]
            kept = {r.family_id for r in self._records.values()}
            ended = [
                k for k, f in self._families.items() if f.expires_at < cutoff and k not in kept
            ]
            for key in ended:
                del self._families[key]
        return len(stale) + len(ended)


def purge_cutoff(before: object) -> float:
    """``purge``'s cut-off as UNIX seconds; ``None`` (which would mean "now") is refused.

    Raises:
        ConfigurationError: If ``before`` is ``None`` or not an instant.
    """
    if before is None:
        raise ConfigurationError(
            "purge needs an explicit cut-off (before=...), older than the longest lifetime "
            "plus a margin"
        )
    return as_unix(before, name="before")


def purge_batches(
    delete: Callable[[T, int], int], statements: Sequence[T], batch_size: object
) -> int:
    """Run each ``DELETE ... LIMIT batch_size`` statement until it deletes fewer rows.

    ``delete(statement, batch_size)`` runs one statement in its own transaction and returns
    its row count, so writers wait at most one batch, never the whole backlog.

    Raises:
        ConfigurationError: If ``batch_size`` is not an int from 1 to 1,000,000.
    """
    batch = check_batch_size(batch_size)
    total = 0
    for statement in statements:
        while True:
            deleted = delete(statement, batch)
            total += deleted
            if deleted < batch:
                break
    return total


def check_batch_size(batch_size: object) -> int:
    """``purge``'s ``batch_size``, checked.

    Raises:
        ConfigurationError: If it is not an int from 1 to 1,000,000.
    """
    return int_option(batch_size, "batch_size", high=_MAX_PURGE_BATCH)


def revoked_family(current: Family | None, effect: RevokeFamily) -> Family:
    """The family after :class:`RevokeFamily`: revoked, or a revoked tombstone."""
    if current is None:
        return Family(
            family_id=effect.family_id,
            client_id=effect.client_id,
            subject=None,
            scope=(),
            created_at=effect.at,
            expires_at=effect.at,
            revoked=True,
        )
    return replace(current, revoked=True, version=current.version + 1)


class AsyncMemoryClientStore:
    """The ``async`` face of a :class:`MemoryClientStore` (same data).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: MemoryClientStore | None = None) -> None:
        if sync is not None and not isinstance(cast("object", sync), MemoryClientStore):
            raise ConfigurationError(
                "AsyncMemoryClientStore wraps a MemoryClientStore: "
                "pass AsyncMemoryClientStore(MemoryClientStore([client, ...]))"
            )
        self.sync: MemoryClientStore = sync if sync is not None else MemoryClientStore()

    async def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        return self.sync.get(client_id)


class AsyncMemoryGrantStore:
    """The ``async`` face of a :class:`MemoryGrantStore` (same data; never blocks long).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: MemoryGrantStore | None = None) -> None:
        if sync is not None and not isinstance(cast("object", sync), MemoryGrantStore):
            raise ConfigurationError(
                "AsyncMemoryGrantStore wraps a MemoryGrantStore: "
                "pass AsyncMemoryGrantStore(MemoryGrantStore()) or nothing"
            )
        self.sync: MemoryGrantStore = sync if sync is not None else MemoryGrantStore()

    async def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        return self.sync.get(digest)

    async def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        return self.sync.family(family_id)

    async def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect or none; ``False`` when a precondition fails."""
        return self.sync.apply(effects)

    async def purge(self, *, before: Instant, batch_size: int = PURGE_BATCH) -> int:
        """See :meth:`MemoryGrantStore.purge`."""
        return self.sync.purge(before=before, batch_size=batch_size)
