"""JWT revocation: revoked ``jti`` values in a one-time store, each until its token expires.

A JWT is valid until its ``exp`` (RFC 7519 section 4.1.4); to withdraw one earlier, record it
with :func:`revoke` in an :class:`~authcore.onetime.OneTimeStore` (for example
:class:`~authcore.stores.memory.MemoryOneTimeStore` or
:class:`~authcore.stores.sqlite.SQLiteOneTimeStore`), and give the same store to
:class:`~authcore.jose.JWTVerifier` as ``denylist``.  An entry is useless once its token has
expired (the ``exp`` check refuses the token anyway), so entries expire with their token and
the store stays as small as the set of revoked, still-valid tokens.

The store key of a token is ``"jwt-deny:"`` followed by the base64url SHA-256 of its ``jti``
(section 4.1.7), so a ``jti`` of any length the verifier accepts can be revoked, and one store
may serve other uses (webhook replay protection, ...) beside the denylist.  The entry's expiry
is the token's ``exp`` plus the verifier's ``leeway``, clamped to what a store can hold: a
token the verifier accepts (an ``exp`` in year 10000, of ``1e15``, or none at all) can always
be revoked.

:func:`check_not_revoked` is the verifier's check: it runs after the signature and every claim
verified, requires a non-empty string ``jti``, and raises :class:`~authcore.errors.Revoked`.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   The denylist is a :class:`~authcore.onetime.OneTimeStore`; ``Denylist``, ``MemoryDenylist``
   and ``SQLiteDenylist`` were removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import TYPE_CHECKING, Any, Final, cast

from authcore._encoding import b64url_encode
from authcore._kinds import is_async, store_answer
from authcore._options import seconds_option
from authcore.clock import Instant, as_datetime
from authcore.errors import ConfigurationError, InvalidClaim, MissingClaim, Revoked
from authcore.onetime import AsyncOneTimeStore, OneTimeStore, check_store, check_store_or_async

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KEY_PREFIX", "acheck_not_revoked", "arevoke", "check_not_revoked", "revoke"]

KEY_PREFIX: Final = "jwt-deny:"
"""The namespace of the denylist's keys in a shared one-time store."""

_UTC: Final = dt.timezone.utc
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=_UTC)
# The latest expiry recorded: the end of the datetime range, less a day so that no time zone
# arithmetic in a store can overflow.  A token expiring later stays revoked until then.
_LATEST: Final = dt.datetime(9999, 12, 30, tzinfo=_UTC)
_LATEST_SECONDS: Final = (_LATEST - _EPOCH).total_seconds()


def _denylist_key(jti: str) -> str:
    """Return the store key of ``jti``: :data:`KEY_PREFIX` + base64url(SHA-256(jti)).

    Lone surrogates (which a Python ``str`` can hold) are hashed as they are, so every
    string has a key.
    """
    digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).digest()
    return KEY_PREFIX + b64url_encode(digest)


def _expiry(exp: object, leeway: float) -> dt.datetime:
    """Return how long a token with this ``exp`` must stay revoked (clamped, never raises).

    The token is accepted while ``now < exp + leeway``; the entry lasts at least that long
    (rounded up to the next microsecond), and at most until the end of year 9999.  Without a
    numeric ``exp``, the token never expires and the entry lasts until then.
    """
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return _LATEST
    seconds = float(exp) + leeway
    if not seconds < _LATEST_SECONDS:  # also catches NaN
        return _LATEST
    # Rounded up to whole microseconds, the resolution of datetimes and of the stores.
    micros = math.ceil(max(seconds, -_LATEST_SECONDS) * 1_000_000)
    return _EPOCH + dt.timedelta(microseconds=micros)


def _jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise ConfigurationError("the claims need a non-empty string jti to be revoked")
    return jti


def revoke(
    store: OneTimeStore, claims: Mapping[str, Any], *, now: Instant | None = None, leeway: float = 0
) -> None:
    """Revoke a verified token: record its ``jti`` in ``store`` until the token expires.

    Args:
        store: The one-time store the verifier consults as its ``denylist``.
        claims: The token's verified claims, with a non-empty string ``jti``.  ``exp`` is
            optional: a token without one stays revoked as long as a store can hold an entry.
        now: The current time (an aware datetime or UNIX seconds; default: the system clock).
        leeway: The verifier's ``leeway`` in seconds: the entry outlives ``exp`` by that much,
            as the verifier keeps accepting the token that long.

    Raises:
        ConfigurationError: If ``claims`` has no usable ``jti``, ``store`` is not a
            :class:`~authcore.onetime.OneTimeStore`, or ``now``/``leeway`` is invalid.
        StoreError: If the store cannot record the revocation.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       Takes a :class:`~authcore.onetime.OneTimeStore`, ``now`` and ``leeway``; accepts every
       ``jti`` and ``exp`` the verifier accepts.
    """
    checked = check_store(store, "store")
    if checked is None:
        raise ConfigurationError("store must be a OneTimeStore, not None")
    entry = _entry(claims, now, leeway)
    if entry is not None:
        store_answer(checked.add(entry[0], expires_at=entry[1], now=entry[2]), checked)


async def arevoke(
    store: OneTimeStore | AsyncOneTimeStore,
    claims: Mapping[str, Any],
    *,
    now: Instant | None = None,
    leeway: float = 0,
) -> None:
    """:func:`revoke` from async code: an :class:`~authcore.onetime.AsyncOneTimeStore` is awaited.

    The same arguments, checks and errors as :func:`revoke`; a synchronous store is called as
    it is.

    .. versionadded:: 0.1.0
    """
    checked = check_store_or_async(store, "store")
    if checked is None:
        raise ConfigurationError("store must be a OneTimeStore, not None")
    entry = _entry(claims, now, leeway)
    if entry is None:
        return
    key, expires_at, current = entry
    if is_async(checked, "add"):
        added = await cast("AsyncOneTimeStore", checked).add(
            key, expires_at=expires_at, now=current
        )
    else:
        added = cast("OneTimeStore", checked).add(key, expires_at=expires_at, now=current)
    store_answer(added, checked)


def _entry(
    claims: Mapping[str, Any], now: Instant | None, leeway: object
) -> tuple[str, dt.datetime, dt.datetime] | None:
    """The store key, expiry and current time of a revocation (``None``: already expired)."""
    seconds = seconds_option(leeway, "leeway", positive=False)
    key = _denylist_key(_jti(claims))
    current = as_datetime(now)
    expires_at = _expiry(claims.get("exp"), seconds)
    if expires_at <= current:
        return None  # the token has expired for good: nothing to revoke
    return key, expires_at, current


def check_not_revoked(
    store: OneTimeStore, claims: Mapping[str, Any], *, now: Instant | None = None
) -> None:
    """Raise unless the token's ``jti`` is absent from ``store`` at ``now``.

    Call it only after the signature and the claims verified: the ``jti`` of an unverified
    token means nothing.

    Raises:
        MissingClaim: The token has no ``jti`` (it could never be revoked).
        InvalidClaim: ``jti`` is not a non-empty string.
        Revoked: ``jti`` is denied.
        StoreError: If the store cannot answer (the token is then not accepted).

    .. versionadded:: 0.1.0
    """
    answer = store.contains(_checked_key(claims), now=as_datetime(now))
    if store_answer(answer, store):
        raise Revoked("jti is on the denylist")


async def acheck_not_revoked(
    store: OneTimeStore | AsyncOneTimeStore,
    claims: Mapping[str, Any],
    *,
    now: Instant | None = None,
) -> None:
    """:func:`check_not_revoked` from async code: an ``async`` store's answer is awaited.

    The same checks and errors as :func:`check_not_revoked`; a synchronous store is called as
    it is (:meth:`~authcore.jose.JWTVerifier.averify` uses this).

    .. versionadded:: 0.1.0
    """
    key, current = _checked_key(claims), as_datetime(now)
    if is_async(store, "contains"):
        found = await cast("AsyncOneTimeStore", store).contains(key, now=current)
    else:
        found = cast("OneTimeStore", store).contains(key, now=current)
    if store_answer(found, store):
        raise Revoked("jti is on the denylist")


def _checked_key(claims: Mapping[str, Any]) -> str:
    """The store key of a verified token's ``jti`` (which a denylist makes required)."""
    jti = claims.get("jti")
    if jti is None:
        raise MissingClaim("jti is missing (required when a denylist is configured)", claim="jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidClaim("jti is not a non-empty string", claim="jti")
    return _denylist_key(jti)
