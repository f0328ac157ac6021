"""API key records and the store protocols (public through :mod:`authcore.apikeys`)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol, cast

from authcore._options import int_problem
from authcore.clock import as_datetime
from authcore.errors import ConfigurationError
from authcore.ratelimit import GCRA

if TYPE_CHECKING:
    from authcore.clock import Instant

__all__ = [
    "KeyChange",
    "KeyLookup",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "KeyWriter",
    "Usage",
    "UsageRecorder",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_ALWAYS: Final = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


class KeyStatus(enum.Enum):
    """The administrative state of a key (expiry and rotation grace are separate times).

    .. versionadded:: 0.1.0
    """

    ACTIVE = "active"
    DISABLED = "disabled"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    """What a store keeps about one API key (never the key itself).

    Attributes:
        usable_until: Derived, not stored: the first instant the key no longer verifies
            (``None``: never; the distant past for a revoked or disabled key).
        metered: Derived: whether verification takes a rate-limit token or a use credit.
        key_id: The public key id (part of the token; safe to display and log).
        prefix: The token prefix the key was issued with.
        owner: Who the key belongs to (an account, user or service id).
        secret_hash: The :class:`~authcore.apikeys.KeyHasher` hash of the secret.
        scopes: The scopes granted.
        status: Active, disabled (reversible) or revoked (final).
        created_at: When the key was issued.
        expires_at: When it stops working, if ever.
        revoked_at: When it stopped (or, after a rotation, will stop) working.
        name: A label for humans.
        metadata: Free-form string pairs for the application.
        rate_limit: A per-key limit, checked by :meth:`KeyManager.verify` when the manager has
            a limiter.
        remaining_uses: Uses left, or ``None`` for unlimited; decremented atomically.
        use_count: Verified uses recorded so far (updated in batches, see ``KeyManager.flush``).
        last_used_at: The latest recorded verified use.
        replaces: The key this one was rotated from.
        replaced_by: The key this one was rotated to.

    .. versionadded:: 0.1.0
    """

    key_id: str
    prefix: str
    owner: str
    secret_hash: str = field(repr=False)
    scopes: frozenset[str] = frozenset()
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, compare=False)
    rate_limit: GCRA | None = None
    remaining_uses: int | None = None
    use_count: int = 0
    last_used_at: dt.datetime | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    usable_until: dt.datetime | None = field(init=False, repr=False, compare=False)
    metered: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigurationError(errors=tuple(problems))
        if type(self.scopes) is not frozenset:  # a set or list of scope names
            object.__setattr__(self, "scopes", frozenset(self.scopes))
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        if self.status is not KeyStatus.ACTIVE:
            until: dt.datetime | None = _ALWAYS
        elif self.expires_at is None or self.revoked_at is None:
            until = self.expires_at if self.revoked_at is None else self.revoked_at
        else:
            until = min(self.expires_at, self.revoked_at)
        object.__setattr__(self, "usable_until", until)
        object.__setattr__(
            self, "metered", self.rate_limit is not None or self.remaining_uses is not None
        )

    def _problems(self) -> list[str]:
        """What is wrong with the fields (a record built by hand, or by a custom store)."""
        problems = [
            f"{name} must be a string"
            for name in ("key_id", "prefix", "owner", "secret_hash")
            if not isinstance(getattr(self, name), str)
        ]
        problems.extend(
            f"{name} must be a string or None"
            for name in ("name", "replaces", "replaced_by")
            if not isinstance(getattr(self, name), (str, type(None)))
        )
        scopes: object = self.scopes
        if (
            isinstance(scopes, (str, bytes))
            or not isinstance(scopes, (frozenset, set, tuple, list))
            or not all(isinstance(scope, str) and scope for scope in scopes)
        ):
            problems.append("scopes must be a set of non-empty strings (not one string)")
        if not isinstance(cast("object", self.status), KeyStatus):
            problems.append("status must be a KeyStatus")
        for name in ("created_at", "expires_at", "revoked_at", "last_used_at"):
            value: object = getattr(self, name)
            if value is None and name != "created_at":
                continue
            if not isinstance(value, dt.datetime) or value.utcoffset() is None:
                problems.append(f"{name} must be an aware datetime")
        metadata: object = self.metadata
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            problems.append("metadata must map strings to strings")
        if self.rate_limit is not None and not isinstance(cast("object", self.rate_limit), GCRA):
            problems.append("rate_limit must be a GCRA or None")
        if self.remaining_uses is not None:
            problems.append(int_problem(self.remaining_uses, "remaining_uses", low=0) or "")
        problems.append(int_problem(self.use_count, "use_count", low=0) or "")
        return [problem for problem in problems if problem]

    def usable_at(self, now: Instant | None = None) -> bool:
        """Whether the key would verify at ``now`` (status and times only).

        Args:
            now: An aware datetime or UNIX seconds (default: the clock).
        """
        return self.usable_until is None or as_datetime(now) < self.usable_until


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Verified uses of one key since the last flush.

    .. versionadded:: 0.1.0
    """

    count: int
    last_used_at: dt.datetime


KeyChange = Callable[[KeyRecord], "tuple[KeyRecord, ...]"]
"""A change applied atomically to a stored record, returning the records to save."""


class KeyLookup(Protocol):
    """Read access to key records.

    .. versionadded:: 0.1.0
    """

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with this key id, or ``None``."""
        ...

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        ...


class KeyWriter(Protocol):
    """Atomic writes of key records.

    .. versionadded:: 0.1.0
    """

    def add(self, record: KeyRecord) -> None:
        """Insert a new record; :class:`~authcore.errors.StoreError` if its id exists."""
        ...

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        """Atomically read a record, call ``change`` on it and save every record it returns.

        Returned records replace the stored ones with the same id or are inserted.  An
        exception from ``change`` aborts the whole update.  Raises
        :class:`~authcore.errors.NotFound` if ``key_id`` does not exist.
        """
        ...


class UsageRecorder(Protocol):
    """Usage accounting: atomic use credits and batched counters.

    .. versionadded:: 0.1.0
    """

    def consume_use(self, key_id: str) -> int | None:
        """Atomically take one use: the uses left afterwards, or ``None`` if none were left."""
        ...

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times, for many keys in one transaction."""
        ...


class KeyStore(KeyLookup, KeyWriter, UsageRecorder, Protocol):
    """Everything :class:`~authcore.apikeys.KeyManager` needs from a store.

    .. versionadded:: 0.1.0
    """
