"""KeyManager: issue, verify, revoke, rotate and list API keys over a store."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from time import monotonic_ns
from typing import TYPE_CHECKING, Final, NoReturn, cast

from authcore._kinds import check_kind
from authcore._options import bool_option, int_option, seconds_option
from authcore.apikeys._format import check_prefix, generate, make_splitter
from authcore.apikeys._hashing import NO_MATCH, KeyHasher
from authcore.apikeys._model import KeyRecord, KeyStatus, KeyStore, Usage
from authcore.clock import Clock, SystemClock, as_datetime, utc_now
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    Disabled,
    Expired,
    InsufficientScope,
    InvalidCredentials,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Revoked,
)
from authcore.ratelimit import GCRA, check_rate_store

if TYPE_CHECKING:
    from authcore import ratelimit
    from authcore.clock import Instant
    from authcore.ratelimit import RateLimitStore

__all__ = ["IssuedKey", "KeyManager"]

_log = logging.getLogger("authcore.apikeys")
# RFC 6749 section 3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
_SCOPE_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_MAX_TEXT: Final = 256
_LAST_USED_MAX: Final = 100_000
_RETRY_NS: Final = 1_000_000_000  # after a failed automatic flush, retry at most once a second
_REQUIRED_MAX: Final = 1024
_STORE_METHODS: Final = ("get", "list_owner", "add", "update", "consume_use", "record_usage")

# Every KeyManager of this process, for the fork() hook below.
_MANAGERS: Final[weakref.WeakSet[KeyManager]] = weakref.WeakSet()


def _forked() -> None:  # pragma: no cover - runs in fork() children only
    for manager in list(_MANAGERS):
        manager._forget_pending()  # noqa: SLF001 - this module's own class


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork() elsewhere
    os.register_at_fork(after_in_child=_forked)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedKey:
    """A newly issued key: show ``token`` to its owner once; only ``record`` is stored.

    Attributes:
        token: The whole API key (never stored, never logged).
        record: The stored record.

    .. versionadded:: 0.1.0
    """

    token: str = field(repr=False)
    record: KeyRecord


def _text(value: object, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise ConfigurationError(f"{name} must be a non-empty str of at most {_MAX_TEXT} chars")
    return value


def _scopes(scopes: object, name: str = "scopes") -> frozenset[str]:
    if isinstance(scopes, (str, bytes)):
        raise ConfigurationError(f"{name} must be a collection of scope strings, not one string")
    if not isinstance(scopes, Iterable):
        raise ConfigurationError(f"{name} must be a collection of scope strings")
    result: set[str] = set()
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE_RE.fullmatch(scope):
            raise ConfigurationError(f"{name} holds an invalid scope (RFC 6749 scope-token)")
        result.add(scope)
    return frozenset(result)


def _metadata(metadata: object) -> Mapping[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ConfigurationError("metadata must be a mapping of str to str")
    items: list[tuple[object, object]] = list(metadata.items())
    for key, value in items:
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigurationError("metadata must be a mapping of str to str")
        if not (key + value).isascii() and not _utf8(key + value):
            # Stored as JSON, which cannot carry a lone surrogate: refused for every store
            # alike, rather than kept by one and refused by another.
            raise ConfigurationError("metadata must be text encodable as UTF-8")
    return dict(metadata)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _seconds(value: object, name: str) -> dt.timedelta:
    if isinstance(value, dt.timedelta):  # kept exactly (microseconds included)
        seconds_option(value, name, positive=False)
        return value
    return dt.timedelta(seconds=seconds_option(value, name, positive=False))


class KeyManager:
    """Issue and verify API keys of one prefix over a :class:`~authcore.apikeys.KeyStore`.

    Verification order, and what each step may reveal:

    1. :func:`~authcore.apikeys.parse`: shape and checksum, offline (``MalformedKey``).
    2. Lookup by key id, then a constant-time HMAC comparison.  An unknown id costs the same
       HMAC and comparison and raises the same ``InvalidCredentials``.
    3. Only now, status: ``Revoked`` (also after a rotation's grace), ``Disabled``, ``Expired``.
    4. Scopes (``InsufficientScope``), the per-key rate limit (``RateLimited``) and the
       remaining uses (``QuotaExhausted``, taken atomically in the store).

    Usage (count and last-used time) is counted in memory and written to the store in one
    batch by :meth:`flush`, which :meth:`verify` also calls once ``flush_interval`` has passed
    (on the monotonic clock) or ``flush_threshold`` uses are pending.  There is no background
    thread: call :meth:`flush` at shutdown (for example with :func:`atexit.register`), and
    periodically if traffic can stop for long, to keep the last counts; a crash loses the
    unflushed counters, never a credit (credits are taken in the store, atomically).
    Last-used times are measured on the monotonic clock and dated at flush from ``clock``,
    so :meth:`verify` reads ``clock`` only for keys whose answer depends on the time.

    Args:
        store: Where records live.
        hasher: Hashes and verifies secrets (holds the peppers).
        prefix: The token prefix of this manager's keys, for example ``"sk_live"``.
        clock: The time source (default: the system clock).
        limiter: Where rate-limit state lives; without one, rate limits are not checked.
        default_rate_limit: The limit of keys that carry none.
        flush_interval: Longest time usage counts wait in memory.
        flush_threshold: Most uses counted in memory before a flush.
        rehash: Replace hashes made with an older pepper on successful verification.

    Raises:
        ConfigurationError: On an invalid prefix or option.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        *,
        prefix: str,
        clock: Clock | None = None,
        limiter: RateLimitStore | None = None,
        default_rate_limit: GCRA | None = None,
        flush_interval: dt.timedelta | float = 10.0,
        flush_threshold: int = 10_000,
        rehash: bool = True,
    ) -> None:
        if not isinstance(hasher, KeyHasher):
            raise ConfigurationError("hasher must be a KeyHasher")
        # An async store's coroutines would pass for records (consume_use: uses "left").
        check_kind(
            store, "store", _STORE_METHODS, awaited=False, expected="authcore.apikeys.KeyStore"
        )
        if default_rate_limit is not None and not isinstance(default_rate_limit, GCRA):
            raise ConfigurationError("default_rate_limit must be a GCRA")
        if default_rate_limit is not None and limiter is None:
            raise ConfigurationError("default_rate_limit needs a limiter store")
        int_option(flush_threshold, "flush_threshold")
        self._store = store
        self._hasher = hasher
        self._match = hasher._match  # noqa: SLF001 - the hasher's fast path, same package
        self._prefix = check_prefix(prefix)
        self._split = make_splitter(prefix)
        self._get = store.get
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError("clock must have a now() method")
        self._clock: Clock = clock if clock is not None else SystemClock()
        # SystemClock.now() is utc_now(): call it directly, one frame less per verify.
        self._now = utc_now if type(self._clock) is SystemClock else self._clock.now
        self._limiter = cast("RateLimitStore | None", check_rate_store(limiter, "limiter"))
        self._default_limit = default_rate_limit
        # The last rate-limit decision of each thread, for verify_with_limit(): written only
        # when a limit was checked, so verify() without a limit does no extra work.
        self._decisions = threading.local()
        # Required scopes as given (tuples, frozensets) -> their checked frozenset.
        self._required: dict[object, frozenset[str]] = {}
        self._flush_interval = _seconds(flush_interval, "flush_interval")
        self._flush_threshold = flush_threshold
        self._rehash = bool_option(rehash, "rehash")
        self._flush_lock = threading.Lock()
        # Usage is recorded without a lock: verifying threads only append to _uses and set
        # _last_used items (each one atomic operation); only flush() removes, and only the
        # items that were present when it started, so no use is ever lost or counted twice.
        # Use times are monotonic-clock stamps, turned into datetimes at flush relative to
        # the manager's clock: a verify reads the (slower) wall clock only when the key's
        # status depends on the time.
        self._uses: list[str] = []
        self._use = self._uses.append  # the list is only ever emptied in place
        self._backlog: Counter[str] = Counter()
        self._suspended_until = 0
        self._last_used: dict[str, int] = {}
        self._interval_ns = int(self._flush_interval.total_seconds() * 1e9)
        self._next_flush = time.monotonic_ns() + self._interval_ns
        _MANAGERS.add(self)

    @property
    def prefix(self) -> str:
        """The prefix of this manager's keys."""
        return self._prefix

    # ------------------------------------------------------------------ issuing

    def create(
        self,
        *,
        owner: str,
        scopes: Iterable[str] = (),
        expires_at: Instant | None = None,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        rate_limit: GCRA | None = None,
        remaining_uses: int | None = None,
    ) -> IssuedKey:
        """Issue a new key.

        Args:
            owner: Who the key belongs to.
            scopes: The scopes granted (RFC 6749 scope tokens).
            expires_at: When the key stops working (an aware datetime or UNIX seconds), if
                ever.
            name: A label for humans.
            metadata: String pairs kept with the record.
            rate_limit: A per-key limit (needs a manager with a ``limiter``).
            remaining_uses: A number of uses after which the key stops working.

        Returns:
            The token (show it once) and the stored record.

        Raises:
            ConfigurationError: On an invalid argument.
            StoreError: If the store fails.

        .. versionadded:: 0.1.0
        """
        owner_checked = _text(owner, "owner")
        assert owner_checked is not None  # noqa: S101 - _text returns a str when not optional
        if expires_at is not None:
            expires_at = as_datetime(expires_at, name="expires_at")
        if rate_limit is not None:
            if not isinstance(rate_limit, GCRA):
                raise ConfigurationError("rate_limit must be a GCRA")
            if self._limiter is None:
                raise ConfigurationError("a per-key rate_limit needs a manager with a limiter")
        if remaining_uses is not None:
            int_option(remaining_uses, "remaining_uses")
        generated = generate(self._prefix)
        record = KeyRecord(
            key_id=generated.key_id,
            prefix=self._prefix,
            owner=owner_checked,
            secret_hash=self._hasher.hash(generated.secret),
            scopes=_scopes(scopes),
            created_at=self._clock.now(),
            expires_at=expires_at,
            name=_text(name, "name", optional=True),
            metadata=_metadata(metadata),
            rate_limit=rate_limit,
            remaining_uses=remaining_uses,
        )
        self._store.add(record)
        return IssuedKey(token=generated.token, record=record)

    # ------------------------------------------------------------------ verifying

    def verify(self, token: str | bytes, *, scopes: Iterable[str] = ()) -> KeyRecord:
        """Verify a presented key and return its record.

        Args:
            token: The key as presented by the client, as ``str`` or ASCII ``bytes`` alike.
            scopes: Scopes the request needs; all must have been granted.

        Returns:
            The key's record (with ``remaining_uses`` after this use).

        Raises:
            MalformedKey: Bad shape, charset, length, prefix or checksum (no lookup done).
            InvalidCredentials: Unknown key id or wrong secret (one error for both).
            Revoked: The key was revoked, or rotated and its grace has ended.
            Disabled: The key is disabled.
            Expired: The key is past ``expires_at``.
            InsufficientScope: A required scope was not granted (``missing`` names them).
            RateLimited: The key's rate limit is exhausted (``retry_after`` in seconds).
            QuotaExhausted: The key has no remaining uses.
            StoreError: The store failed.

        .. versionadded:: 0.1.0
        """
        key_id, secret = self._split(token)
        record = self._get(key_id)
        if record is None:
            self._hasher.reject(secret)
        needs_rehash = self._match(secret, record.secret_hash).needs_rehash
        # The secret matched: from here on, answers may depend on the record.
        if record.prefix != self._prefix:
            raise InvalidCredentials(NO_MATCH)
        until = record.usable_until
        if until is not None:
            now = self._now()
            if now >= until:
                _refuse_status(record, now)
        if scopes:
            try:
                required = self._required[scopes]
            except (KeyError, TypeError):  # first use of this value, or not hashable
                required = self._required_scopes(scopes)
            if not record.scopes >= required:
                _refuse_scopes(required, record.scopes)
        if record.metered or needs_rehash or self._default_limit is not None:
            record = self._slow_checks(record, secret, needs_rehash=needs_rehash)
        # Batched usage: counted in memory, written by flush().
        stamp = monotonic_ns()
        self._use(key_id)
        self._last_used[key_id] = stamp
        if stamp >= self._next_flush or len(self._uses) >= self._flush_threshold:
            self._auto_flush()
        return record

    def verify_with_limit(
        self, token: str | bytes, *, scopes: Iterable[str] = ()
    ) -> tuple[KeyRecord, ratelimit.Decision | None]:
        """Verify a presented key, as :meth:`verify`, and return the rate-limit decision too.

        The decision lets a server answer with ``RateLimit-Limit``, ``RateLimit-Remaining``
        and ``RateLimit-Reset`` (:meth:`~authcore.ratelimit.Decision.headers`) on success; a
        refusal raises :class:`~authcore.errors.RateLimited`, whose
        :meth:`~authcore.errors.RateLimited.headers` gives the same headers with
        ``Retry-After``.  Safe to call from many threads at once: each gets its own decision.

        Args:
            token: The key as presented by the client.
            scopes: Scopes the request needs; all must have been granted.

        Returns:
            The key's record, and the decision of its rate limit, or ``None`` when no limit
            applies to the key (or the manager has no limiter).

        Raises:
            VerificationError: Every refusal of :meth:`verify`, the same classes
                (``RateLimited`` carries ``limit`` and ``reset_after`` for its headers).
            StoreError: The store failed.

        .. versionadded:: 0.1.0
        """
        local = self._decisions
        local.last = None
        record = self.verify(token, scopes=scopes)
        decision: ratelimit.Decision | None = local.last
        local.last = None
        return record, decision

    def _required_scopes(self, scopes: Iterable[str]) -> frozenset[str]:
        """The checked set of required ``scopes``, remembered for tuples and frozensets.

        Callers pass the same few constants on every request: checking each one once and
        comparing frozensets afterwards costs a third of ``issuperset`` on a tuple.

        Raises:
            ConfigurationError: If ``scopes`` is one string, not a collection, or holds an
                invalid scope.
        """
        required = _scopes(scopes)
        if type(scopes) is tuple or type(scopes) is frozenset:  # immutable: safe to remember
            if len(self._required) >= _REQUIRED_MAX:
                self._required.clear()
            self._required[scopes] = required
        return required

    def _limit(self, limit: GCRA, key_id: str, now: dt.datetime) -> None:
        if self._limiter is not None:
            decision = limit.hit(self._limiter, f"apikey:{key_id}", now=now)
            self._decisions.last = decision
            if not decision.allowed:
                raise RateLimited(
                    retry_after=decision.retry_after,
                    limit=decision.limit,
                    reset_after=decision.reset_after,
                )

    def _slow_checks(self, record: KeyRecord, secret: bytes, *, needs_rehash: bool) -> KeyRecord:
        now = self._now()
        limit = record.rate_limit or self._default_limit
        if limit is not None:
            self._limit(limit, record.key_id, now)
        if record.remaining_uses is not None:
            left = self._store.consume_use(record.key_id)
            if left is None:
                raise QuotaExhausted("key has no remaining uses")
            record = replace(record, remaining_uses=left)
        if needs_rehash and self._rehash:
            record = self._rehash_record(record, secret)
        return record

    def _rehash_record(self, record: KeyRecord, secret: bytes) -> KeyRecord:
        new_hash = self._hasher.hash(secret)
        try:
            self._store.update(record.key_id, lambda r: (replace(r, secret_hash=new_hash),))
        except AuthcoreError as exc:  # the key verified; a failed upgrade must not refuse it
            _log.warning("could not rehash API key %s: %s", record.key_id, exc.code)
            return record
        return replace(record, secret_hash=new_hash)

    # ------------------------------------------------------------------ usage

    def _auto_flush(self) -> None:
        if time.monotonic_ns() < self._suspended_until:
            # The store failed recently: fold the pending uses into counters (bounded
            # memory, no I/O) and wait for the retry time or an explicit flush().
            with self._flush_lock:
                counts = self._take()  # replaces self._backlog: update the new one after
                self._backlog.update(counts)
            return
        try:
            self.flush()
        except AuthcoreError as exc:  # kept for the next flush; the key did verify
            self._suspended_until = time.monotonic_ns() + max(self._interval_ns, _RETRY_NS)
            _log.warning("could not flush API key usage: %s", exc.code)

    def _take(self) -> Counter[str]:
        """Remove and count the pending uses (with the flush lock held)."""
        uses = self._uses
        taken = len(uses)
        counts = Counter(uses[:taken])
        del uses[:taken]  # appends made meanwhile stay for the next flush
        if self._backlog:
            counts.update(self._backlog)
            self._backlog = Counter()
        return counts

    def _forget_pending(self) -> None:
        """Start a ``fork()`` child with no pending usage and a free flush lock.

        The uses counted before the fork are the parent's to write: flushed by both processes
        they would be counted twice.  The lock may have been held by another thread of the
        parent (mid-flush); that thread does not exist in the child, which would wait for it
        for ever.  Runs in the child's only thread.
        """
        self._flush_lock = threading.Lock()
        del self._uses[:]  # in place: _use is bound to this list
        self._backlog = Counter()
        self._last_used.clear()
        self._suspended_until = 0
        self._next_flush = time.monotonic_ns() + self._interval_ns

    @property
    def pending_usage(self) -> int:
        """How many verified uses are counted in memory and not yet flushed."""
        return len(self._uses) + self._backlog.total()

    def flush(self) -> int:
        """Write the usage counted in memory to the store in one batch.

        Returns:
            The number of keys whose usage was written.

        Raises:
            StoreError: If the store fails (the counts stay pending for the next flush).

        .. versionadded:: 0.1.0
        """
        with self._flush_lock:
            stamp = time.monotonic_ns()
            now = self._now()
            self._next_flush = stamp + self._interval_ns
            counts = self._take()
            if not counts:
                return 0
            stamps = self._last_used.copy()
            if len(stamps) > _LAST_USED_MAX:
                self._last_used.clear()
            usage = {
                key_id: Usage(
                    count=count,
                    last_used_at=now
                    - dt.timedelta(microseconds=(stamp - stamps.get(key_id, stamp)) // 1000),
                )
                for key_id, count in counts.items()
            }
            try:
                self._store.record_usage(usage)
            except BaseException:
                self._backlog.update(counts)  # counted again next time
                raise
            self._suspended_until = 0
            return len(usage)

    # ------------------------------------------------------------------ managing

    def get(self, key_id: str) -> KeyRecord:
        """Return the record of ``key_id``.

        Raises:
            NotFound: If there is no such key (with this manager's prefix).

        .. versionadded:: 0.1.0
        """
        given: object = key_id
        record = self._store.get(key_id) if isinstance(given, str) else None
        if record is None or record.prefix != self._prefix:
            raise NotFound("no key with this id")
        return record

    def list(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every key of ``owner`` with this manager's prefix, oldest first.

        .. versionadded:: 0.1.0
        """
        _text(owner, "owner")
        return tuple(r for r in self._store.list_owner(owner) if r.prefix == self._prefix)

    def _update_one(self, key_id: str, change: Callable[[KeyRecord], KeyRecord]) -> KeyRecord:
        self.get(key_id)
        return self._store.update(key_id, lambda r: (change(r),))[0]

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key now, for good (idempotent).

        Returns:
            The updated record.

        Raises:
            NotFound: If there is no such key.

        .. versionadded:: 0.1.0
        """
        now = self._clock.now()

        def change(record: KeyRecord) -> KeyRecord:
            if record.status is KeyStatus.REVOKED:
                return record
            when = now if record.revoked_at is None else min(record.revoked_at, now)
            return replace(record, status=KeyStatus.REVOKED, revoked_at=when)

        return self._update_one(key_id, change)

    def disable(self, key_id: str) -> KeyRecord:
        """Disable a key until :meth:`enable` (verification raises ``Disabled``).

        Raises:
            NotFound: If there is no such key.
            Revoked: If the key is revoked (revocation is final).

        .. versionadded:: 0.1.0
        """
        return self._update_one(key_id, lambda r: _set_status(r, KeyStatus.DISABLED))

    def enable(self, key_id: str) -> KeyRecord:
        """Re-enable a disabled key.

        Raises:
            NotFound: If there is no such key.
            Revoked: If the key is revoked (revocation is final).

        .. versionadded:: 0.1.0
        """
        return self._update_one(key_id, lambda r: _set_status(r, KeyStatus.ACTIVE))

    def rotate(self, key_id: str, *, grace: dt.timedelta | float) -> IssuedKey:
        """Issue a successor key; the old key keeps working until ``grace`` has passed.

        The successor copies the owner, scopes, expiry, name, metadata, rate limit and
        remaining uses.  Both writes happen in one store transaction.

        Args:
            key_id: The key to replace.
            grace: How long the old key stays valid (``0``: it stops now).

        Returns:
            The new token and record.

        Raises:
            NotFound: If there is no such key.
            Revoked: If the key is revoked, or was already rotated (rotate its successor).
            ConfigurationError: If ``grace`` is negative.

        .. versionadded:: 0.1.0
        """
        delta = _seconds(grace, "grace")
        self.get(key_id)
        now = self._clock.now()
        generated = generate(self._prefix)
        secret_hash = self._hasher.hash(generated.secret)
        successor: list[KeyRecord] = []

        def change(old: KeyRecord) -> tuple[KeyRecord, ...]:
            if old.status is KeyStatus.REVOKED or (
                old.revoked_at is not None and now >= old.revoked_at
            ):
                raise Revoked("cannot rotate a revoked key")
            if old.replaced_by is not None:
                raise Revoked("key was already rotated; rotate its successor")
            new = KeyRecord(
                key_id=generated.key_id,
                prefix=old.prefix,
                owner=old.owner,
                secret_hash=secret_hash,
                scopes=old.scopes,
                status=old.status,
                created_at=now,
                expires_at=old.expires_at,
                name=old.name,
                metadata=old.metadata,
                rate_limit=old.rate_limit,
                remaining_uses=old.remaining_uses,
                replaces=old.key_id,
            )
            successor.append(new)
            return (replace(old, revoked_at=now + delta, replaced_by=new.key_id), new)

        self._store.update(key_id, change)
        return IssuedKey(token=generated.token, record=successor[-1])

    def __repr__(self) -> str:
        return f"KeyManager(prefix={self._prefix!r}, store={type(self._store).__name__})"


def _refuse_scopes(required: frozenset[str], granted: frozenset[str]) -> NoReturn:
    """Raise InsufficientScope naming the required scopes that were not granted."""
    raise InsufficientScope(missing=tuple(required - granted))


def _refuse_status(record: KeyRecord, now: dt.datetime) -> NoReturn:
    """Raise the status error of a key that matched but is not usable at ``now``."""
    if record.status is KeyStatus.REVOKED:
        raise Revoked("key was revoked")
    if record.status is KeyStatus.DISABLED:
        raise Disabled("key is disabled")
    if record.revoked_at is not None and now >= record.revoked_at:
        raise Revoked("key was rotated and its grace period ended")
    raise Expired("key is past its expiry time")


def _set_status(record: KeyRecord, status: KeyStatus) -> KeyRecord:
    if record.status is KeyStatus.REVOKED:
        raise Revoked("revocation is final")
    return replace(record, status=status)
