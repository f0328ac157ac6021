"""JWT revocation: a denylist of ``jti`` values, each kept until the token it names expires.

A JWT is valid until its ``exp`` (RFC 7519 section 4.1.4); to withdraw one earlier, record its
``jti`` (section 4.1.7) in a :class:`Denylist` until that ``exp``, and give the denylist to the
verifier.  An entry is useless once its token has expired (the ``exp`` check refuses the token
anyway), so entries carry an expiry and are purged after it: the list stays as small as the
set of revoked, still-unexpired tokens.

Two implementations: :class:`MemoryDenylist` (one process, thread-safe) and
:class:`SQLiteDenylist` (persistent, shared by the processes of one machine; the
``jwt_denylist`` table, migrated with the other authcore SQLite stores).  Anything with the
three methods of :class:`Denylist` works, for example a Redis set with per-key expiry.

:func:`check_not_revoked` is the verifier's check: it runs after the signature and every claim
verified, requires a string ``jti``, and raises :class:`~authcore.errors.Revoked`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import TYPE_CHECKING, Any, Final, Protocol, cast, final, runtime_checkable

from authcore.clock import Clock, SystemClock, ensure_aware
from authcore.errors import ConfigurationError, InvalidClaim, MissingClaim, Revoked

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

    from authcore._sqlite import Schema, SQLiteDatabase

__all__ = [
    "DENYLIST_SCHEMA_COMPONENT",
    "MAX_JTI_LENGTH",
    "Denylist",
    "MemoryDenylist",
    "SQLiteDenylist",
    "check_not_revoked",
    "optional_denylist",
    "revoke",
]

MAX_JTI_LENGTH: Final = 1024
"""The longest ``jti`` a denylist stores; longer ones are refused by :meth:`Denylist.add`."""

DENYLIST_SCHEMA_COMPONENT: Final = "jwt_denylist"
"""The component name of the SQLite table in ``authcore_schema``."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US: Final = dt.timedelta(microseconds=1)
_PURGE_EVERY: Final = 256


@runtime_checkable
class Denylist(Protocol):
    """Revoked token ids, each until its expiry.

    .. versionadded:: 0.1.0
    """

    def add(self, jti: str, *, expires_at: dt.datetime) -> None:
        """Deny ``jti`` until ``expires_at`` (a later expiry of the same jti wins)."""
        ...

    def contains(self, jti: str, *, now: dt.datetime) -> bool:
        """Whether ``jti`` is denied at ``now`` (entries expire at their ``expires_at``)."""
        ...

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the entries expired at ``now``; return how many were deleted."""
        ...


def _check_clock(clock: object) -> Clock:
    if clock is None:
        return SystemClock()
    if not isinstance(clock, Clock):
        raise ConfigurationError("clock must be an authcore.clock.Clock")
    return clock


def _check_jti(jti: object) -> str:
    if not isinstance(jti, str) or not jti:
        raise ConfigurationError("jti must be a non-empty string")
    if len(jti) > MAX_JTI_LENGTH:
        raise ConfigurationError(f"jti longer than {MAX_JTI_LENGTH} characters")
    return jti


def _micros(value: dt.datetime, name: str) -> int:
    return (ensure_aware(value, name=name) - _EPOCH) // _US


def optional_denylist(value: object) -> Denylist | None:
    """Return ``value`` if it is ``None`` or a :class:`Denylist` (for verifier options).

    Raises:
        ConfigurationError: For anything else.

    .. versionadded:: 0.1.0
    """
    if value is None or isinstance(value, Denylist):
        return value
    raise ConfigurationError("denylist must be a Denylist (add, contains, purge)")


def revoke(denylist: Denylist, claims: Mapping[str, Any]) -> None:
    """Deny a verified token until it expires: ``denylist.add(jti, expires_at=exp)``.

    Args:
        denylist: Where to record the revocation.
        claims: The token's verified claims, with a string ``jti`` and a numeric ``exp``.

    Raises:
        ConfigurationError: If ``jti`` or ``exp`` is missing or invalid (a token without
            ``exp`` would have to stay on the list forever: record it yourself if you must).

    .. versionadded:: 0.1.0
    """
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise ConfigurationError("the claims need a numeric exp to be revoked until it")
    try:
        expires_at = dt.datetime.fromtimestamp(math.ceil(exp), dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ConfigurationError("exp is out of range") from None
    denylist.add(_check_jti(claims.get("jti")), expires_at=expires_at)


def check_not_revoked(denylist: Denylist, claims: Mapping[str, Any], *, now: dt.datetime) -> None:
    """Raise unless the token's ``jti`` is absent from ``denylist`` at ``now``.

    Call it only after the signature and the claims verified: the ``jti`` of an unverified
    token means nothing.

    Raises:
        MissingClaim: The token has no ``jti`` (it could never be revoked).
        InvalidClaim: ``jti`` is not a non-empty string.
        Revoked: ``jti`` is denied.

    .. versionadded:: 0.1.0
    """
    jti = claims.get("jti")
    if jti is None:
        raise MissingClaim("jti is missing (required when a denylist is configured)", claim="jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidClaim("jti is not a non-empty string", claim="jti")
    if len(jti) <= MAX_JTI_LENGTH and denylist.contains(jti, now=now):
        raise Revoked("jti is on the denylist")


@final
class MemoryDenylist:
    """An in-process, thread-safe denylist.

    Args:
        clock: The time source of the automatic purge that runs every few hundred adds
            (default: the system clock).  Lookups never depend on it: they take ``now``.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_adds", "_clock", "_entries", "_lock")

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = _check_clock(clock)
        self._entries: dict[str, int] = {}
        self._lock = threading.Lock()
        self._adds = 0

    def add(self, jti: str, *, expires_at: dt.datetime) -> None:
        """Deny ``jti`` until ``expires_at`` (a later expiry of the same jti wins).

        Raises:
            ConfigurationError: If ``jti`` is not a non-empty string of at most
                :data:`MAX_JTI_LENGTH` characters, or ``expires_at`` is not aware.
        """
        name = _check_jti(jti)
        until = _micros(expires_at, "expires_at")
        with self._lock:
            if until > self._entries.get(name, until - 1):
                self._entries[name] = until
            self._adds += 1
            purge = self._adds % _PURGE_EVERY == 0
        if purge:
            self.purge(now=self._clock.now())

    def contains(self, jti: str, *, now: dt.datetime) -> bool:
        """Whether ``jti`` is denied at ``now``.

        Raises:
            ConfigurationError: If ``now`` is not an aware datetime.
        """
        at = _micros(now, "now")
        if not isinstance(cast("object", jti), str):
            raise ConfigurationError("jti must be a string")
        until = self._entries.get(jti)
        return until is not None and at < until

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the entries expired at ``now``; return how many were deleted."""
        at = _micros(now, "now")
        with self._lock:
            expired = [jti for jti, until in self._entries.items() if until <= at]
            for jti in expired:
                del self._entries[jti]
        return len(expired)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryDenylist(entries={len(self._entries)})"


def _schema() -> Schema:
    from authcore._sqlite import Migration, Schema  # noqa: PLC0415 - lazy sqlite3

    return Schema(
        component=DENYLIST_SCHEMA_COMPONENT,
        migrations=(
            Migration(
                version=1,
                description="jwt_denylist: jti until expiry (microseconds since the epoch)",
                statements=(
                    (
                        "CREATE TABLE jwt_denylist (jti TEXT PRIMARY KEY NOT NULL,"
                        " expires_at INTEGER NOT NULL) WITHOUT ROWID"
                    ),
                    "CREATE INDEX jwt_denylist_expires_at ON jwt_denylist (expires_at)",
                ),
            ),
        ),
    )


@final
class SQLiteDenylist:
    """A persistent denylist in a SQLite file (WAL; safe across threads and processes).

    Args:
        path: The database file, or an open :class:`~authcore._sqlite.SQLiteDatabase`
            to share with other authcore stores (the table is migrated into it).
        timeout: Seconds to wait for another writer (when opening by path).
        clock: The time source of the automatic purge that runs every few hundred adds
            (default: the system clock).

    Raises:
        ConfigurationError: On an invalid path or option.
        StoreError: If the database cannot be opened or migrated.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_adds", "_clock", "_db", "_lock")

    def __init__(
        self,
        path: str | os.PathLike[str] | SQLiteDatabase,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        from authcore._sqlite import SQLiteDatabase  # noqa: PLC0415 - lazy sqlite3

        self._clock = _check_clock(clock)
        schema = _schema()
        if isinstance(path, SQLiteDatabase):
            path.migrate([schema])
            self._db = path
        else:
            self._db = SQLiteDatabase(path, schemas=[schema], timeout=timeout)
        self._lock = threading.Lock()
        self._adds = 0

    def add(self, jti: str, *, expires_at: dt.datetime) -> None:
        """Deny ``jti`` until ``expires_at`` (a later expiry of the same jti wins).

        Raises:
            ConfigurationError: If ``jti`` or ``expires_at`` is invalid.
            StoreError: If the database fails.
        """
        name = _check_jti(jti)
        until = _micros(expires_at, "expires_at")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO jwt_denylist (jti, expires_at) VALUES (?, ?) "
                "ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                (name, until),
            )
        with self._lock:
            self._adds += 1
            purge = self._adds % _PURGE_EVERY == 0
        if purge:
            self.purge(now=self._clock.now())

    def contains(self, jti: str, *, now: dt.datetime) -> bool:
        """Whether ``jti`` is denied at ``now``.

        Raises:
            ConfigurationError: If ``now`` is not an aware datetime.
            StoreError: If the database fails.
        """
        at = _micros(now, "now")
        if not isinstance(cast("object", jti), str):
            raise ConfigurationError("jti must be a string")
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM jwt_denylist WHERE jti = ? AND expires_at > ?", (jti, at)
            ).fetchone()
        return row is not None

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the entries expired at ``now``; return how many were deleted.

        Raises:
            StoreError: If the database fails.
        """
        at = _micros(now, "now")
        with self._db.transaction() as conn:
            return int(
                conn.execute("DELETE FROM jwt_denylist WHERE expires_at <= ?", (at,)).rowcount
            )

    def close(self) -> None:
        """Close the database connections this denylist opened."""
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteDenylist({str(self._db.path)!r})"
