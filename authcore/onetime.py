"""One-time values: remember a key until it expires, and say whether it was seen before.

Every "accept this once" and "refuse this until it expires" check in authcore goes through
one small protocol, :class:`OneTimeStore`:

* webhook replay protection (a delivery's identity, until its timestamp leaves the tolerance);
* the JWT denylist (a revoked token's ``jti``, until its ``exp``);
* OAuth client-assertion and DPoP proof ``jti`` replay checks (until the proof's window ends).

A store holds opaque string keys with an expiry.  Callers namespace their keys (the webhook
verifier's keys start with ``"webhook:"``, the denylist's with ``"jwt-deny:"``, ...), so one
store may serve every use.  Implementations live in :mod:`authcore.stores` (memory, SQLite,
and later shared backends); anything with these two methods works.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, cast, runtime_checkable

from authcore._kinds import is_async
from authcore.clock import as_unix
from authcore.errors import ConfigurationError

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["MAX_KEY_LENGTH", "AsyncOneTimeStore", "OneTimeStore"]

MAX_KEY_LENGTH: Final = 512
"""The longest key a store accepts; callers digest longer identifiers (a ``jti``) first."""


@runtime_checkable
class OneTimeStore(Protocol):
    """Keys remembered until their expiry: check-and-remember, and look up.

    .. versionadded:: 0.1.0
    """

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``, atomically, unless it is already recorded.

        Args:
            key: A non-empty string of at most :data:`MAX_KEY_LENGTH` characters.
            expires_at: When the entry may be forgotten (aware).
            now: The current time (aware); entries expired at ``now`` do not count.

        Returns:
            ``True`` if the key was absent (or expired) and is now recorded; ``False`` if it
            is recorded and unexpired (a replay).  Of concurrent adds of one key, exactly one
            returns ``True``.

        Raises:
            StoreError: If the store cannot record the key (it must fail closed).
        """
        ...

    def contains(self, key: str, *, now: dt.datetime) -> bool:
        """Whether ``key`` is recorded and unexpired at ``now``.

        Raises:
            StoreError: If the store cannot answer.
        """
        ...


@runtime_checkable
class AsyncOneTimeStore(Protocol):
    """The ``async`` mirror of :class:`OneTimeStore` (same contract, awaited).

    Only the ``async`` servers take one (:class:`~authcore.oauth.AsyncAuthorizationServer`);
    every synchronous caller refuses it, since an un-awaited ``add`` would answer "not seen
    before" to every replay.

    .. versionadded:: 0.1.0
    """

    async def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """See :meth:`OneTimeStore.add`."""
        ...

    async def contains(self, key: str, *, now: dt.datetime) -> bool:
        """See :meth:`OneTimeStore.contains`."""
        ...


_CONFORMING: Final[set[type]] = set()
"""Classes whose instances passed the structural :class:`OneTimeStore` check."""


def check_store(store: object, name: str) -> OneTimeStore | None:
    """Return ``store`` if it is ``None`` or a synchronous :class:`OneTimeStore` (for options).

    Raises:
        ConfigurationError: For anything else, naming the option; an ``async`` store (such
            as ``AsyncRedisOneTimeStore``) too: its un-awaited answers would accept replays.
    """
    if store is None or type(store) in _CONFORMING:
        return cast("OneTimeStore | None", store)
    if isinstance(store, OneTimeStore):
        if is_async(store, "add", "contains"):
            raise ConfigurationError(
                f"{name} must be a synchronous OneTimeStore: {type(store).__name__} is async "
                "(pass the synchronous store it wraps, or use it with an async server)"
            )
        # A runtime Protocol check inspects every member (microseconds); remember the class.
        _CONFORMING.add(type(store))
        return store
    raise ConfigurationError(
        f"{name} must be a OneTimeStore (add, contains) such as "
        f"authcore.stores.memory.MemoryOneTimeStore, not {type(store).__name__}"
    )


def check_store_or_async(store: object, name: str) -> OneTimeStore | AsyncOneTimeStore | None:
    """:func:`check_store` for an ``async`` caller, which also takes an :class:`AsyncOneTimeStore`.

    Raises:
        ConfigurationError: For anything that is neither.
    """
    if is_async(store, "add") and isinstance(store, AsyncOneTimeStore):
        return store
    return check_store(store, name)


def check_key(key: object) -> str:
    """Return ``key`` if it is a storable key.

    Raises:
        ConfigurationError: If it is not a non-empty, UTF-8-encodable string of at most
            :data:`MAX_KEY_LENGTH` characters.
    """
    if not isinstance(key, str) or not key:
        raise ConfigurationError("a one-time key must be a non-empty str")
    if len(key) > MAX_KEY_LENGTH:
        raise ConfigurationError(f"a one-time key is at most {MAX_KEY_LENGTH} characters")
    if not key.isascii():
        try:
            key.encode()
        except UnicodeEncodeError:
            raise ConfigurationError("a one-time key must be encodable as UTF-8") from None
    return key


def check_times(expires_at: object, now: object) -> tuple[float, float]:
    """Return ``(expires_at, now)`` as UNIX seconds.

    Both take what every ``now=`` takes (:data:`authcore.clock.Instant`: an aware datetime or
    UNIX seconds); ``None`` is refused, as a store must be told the time, not guess it.

    Raises:
        ConfigurationError: If either is ``None``, naive, not finite or of another type.
    """
    for value, name in ((expires_at, "expires_at"), (now, "now")):
        if value is None:
            raise ConfigurationError(f"{name} is required")
    return as_unix(expires_at, name="expires_at"), as_unix(now, name="now")
