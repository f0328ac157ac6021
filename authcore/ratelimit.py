"""Rate limiting with the Generic Cell Rate Algorithm (GCRA) over a small store protocol.

GCRA keeps one number per key, the *theoretical arrival time* (TAT): when the key's bucket
would be empty again if requests kept arriving at the sustained rate.  A request of cost ``c``
at time ``now`` is allowed when ``max(TAT, now) + c*T - burst*T <= now`` (``T = period /
rate``, the emission interval) and then moves the TAT forward by ``c*T``.  It is a leaky bucket
without a background drip: exact, O(1), and one atomic read-modify-write per decision.

All arithmetic is in integer nanoseconds, so a burst of ``burst`` requests at one instant is
allowed exactly ``burst`` times whatever the float rounding of ``period / rate`` would be.

The store does the atomic read-modify-write (:class:`RateLimitStore`); the policy
(:class:`GCRA`) is an immutable value.  :class:`authcore.stores.memory.MemoryRateLimitStore`
serves one process; :class:`authcore.stores.sqlite.SQLiteRateLimitStore` shares limits
between processes on one machine.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, cast

from authcore._kinds import check_kind
from authcore._options import int_option, seconds_option
from authcore.clock import as_datetime
from authcore.errors import ConfigurationError, RateLimited

if TYPE_CHECKING:
    from authcore.clock import Instant

__all__ = ["GCRA", "AsyncRateLimitStore", "Decision", "RateLimitStore"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_NS: Final = 1_000_000_000


def _to_ns(now: object) -> int:
    """Return an :data:`~authcore.clock.Instant` (``None``: the clock) as integer nanoseconds.

    Exact to the microsecond, the resolution of :class:`~datetime.datetime`.

    Raises:
        ConfigurationError: If ``now`` is naive, not finite, out of range or of another type.
    """
    return ((as_datetime(now) - _EPOCH) // dt.timedelta(microseconds=1)) * 1000


class RateLimitStore(Protocol):
    """Where GCRA keeps one theoretical arrival time (TAT, nanoseconds) per key.

    A store makes the whole decision atomically: in-process stores call the pure
    :meth:`GCRA.step` under a lock or inside a transaction; a networked store may run the
    same integer arithmetic on the server (one Lua script in Redis), using the public values
    :attr:`GCRA.interval_ns`, :attr:`GCRA.capacity_ns` and :meth:`GCRA.cost_ns`.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       ``apply(key, step, *, now_ns)`` (a Python callback run inside the store's
       transaction) became :meth:`hit`, so a server can decide in one round trip.
    """

    def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> Decision:
        """Take ``cost`` units of ``limit`` for ``key`` if allowed, atomically.

        The decision must equal ``limit.step(tat, now_ns, cost)[1]`` for the key's stored
        TAT (``None`` when unknown or not after ``now_ns``), and the new TAT is stored only
        when the request is allowed.  No other ``hit`` on the same key may interleave, in
        this thread, another thread or (for shared stores) another process.  A store that
        reads the time from its server (Redis) uses that time instead of ``now_ns``.

        Raises:
            ConfigurationError: If ``cost`` is not between 1 and ``limit.burst``.
            StoreError: If the store cannot decide (callers fail closed).
        """
        ...

    def reset(self, key: str) -> None:
        """Forget the key's state (its next request starts with a full burst)."""
        ...


class AsyncRateLimitStore(Protocol):
    """The ``async`` mirror of :class:`RateLimitStore` (same contract, awaited).

    Taken by :meth:`GCRA.ahit` and the ``async`` servers
    (:class:`~authcore.oauth.AsyncAuthorizationServer`).

    .. versionadded:: 0.1.0
    """

    async def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> Decision:
        """See :meth:`RateLimitStore.hit`."""
        ...

    async def reset(self, key: str) -> None:
        """See :meth:`RateLimitStore.reset`."""
        ...


def check_rate_store(
    store: object, name: str, *, awaited: bool = False
) -> RateLimitStore | AsyncRateLimitStore | None:
    """Return ``store`` if it is ``None`` or a rate-limit store its caller can use (for options).

    Args:
        store: The option's value.
        name: The option's name, for the message.
        awaited: Whether the caller awaits the store (then an ``async`` one is taken too).

    Raises:
        ConfigurationError: If it lacks ``hit``/``reset``, or is ``async`` for a synchronous
            caller (its un-awaited decision has no ``allowed``).
    """
    if store is None:
        return None
    check_kind(
        store,
        name,
        ("hit", "reset"),
        awaited=None if awaited else False,
        expected="authcore.ratelimit.RateLimitStore",
    )
    return cast("RateLimitStore | AsyncRateLimitStore", store)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of one rate-limit check.

    Attributes:
        allowed: Whether the request may proceed.
        limit: The burst size (the most requests allowed at one instant).
        remaining: How many more unit requests would be allowed right now.
        retry_after: Seconds until this request would be allowed (0 when allowed).
        reset_after: Seconds until the key is back to a full burst.

    .. versionadded:: 0.1.0
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float

    def headers(self) -> dict[str, str]:
        """Response headers: ``RateLimit-Limit``/``-Remaining``/``-Reset``, ``Retry-After``.

        Seconds are rounded up, as clients must not retry early.
        """
        result = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed:
            result["Retry-After"] = str(math.ceil(self.retry_after))
        return result


@dataclass(frozen=True, slots=True)
class GCRA:
    """A rate limit: ``rate`` requests per ``period`` seconds, bursts of up to ``burst``.

    Args:
        rate: Requests allowed per period, sustained.
        period: The period in seconds (or a :class:`~datetime.timedelta`).
        burst: The most requests allowed at one instant (default: ``rate``).

    Raises:
        ConfigurationError: If a value is not positive or the period is not finite.

    .. versionadded:: 0.1.0
    """

    rate: int
    period: float
    burst: int = 0
    _interval_ns: int = field(init=False, repr=False, compare=False)

    def __init__(self, rate: int, period: float | dt.timedelta, burst: int | None = None) -> None:
        seconds = seconds_option(period, "period")
        object.__setattr__(self, "rate", int_option(rate, "rate"))
        object.__setattr__(self, "period", seconds)
        object.__setattr__(self, "burst", int_option(rate if burst is None else burst, "burst"))
        # Whole nanoseconds, rounded down: at most 1 ns per request looser than configured,
        # so clients pacing themselves at exactly the rate (on microsecond clocks) pass.
        object.__setattr__(self, "_interval_ns", max(1, int(seconds * _NS) // rate))

    @property
    def interval_ns(self) -> int:
        """The emission interval ``T`` in whole nanoseconds (``period / rate``, rounded down).

        .. versionadded:: 0.1.0
        """
        return self._interval_ns

    @property
    def capacity_ns(self) -> int:
        """``burst * T``: how far the TAT may run ahead of now for a request to be allowed.

        .. versionadded:: 0.1.0
        """
        return self._interval_ns * self.burst

    def cost_ns(self, cost: int = 1) -> int:
        """``cost * T``: how far an allowed request of ``cost`` units moves the TAT.

        Raises:
            ConfigurationError: If ``cost`` is not an int between 1 and ``burst``.

        .. versionadded:: 0.1.0
        """
        if int_option(cost, "cost") > self.burst:
            raise ConfigurationError("cost exceeds the burst: it could never be allowed")
        return self._interval_ns * cost

    def step(self, tat: int | None, now_ns: int, cost: int = 1) -> tuple[int | None, Decision]:
        """The pure GCRA transition: ``(new TAT or None if unchanged, decision)``.

        Raises:
            ConfigurationError: If ``cost`` is not an int between 1 and ``burst``.
        """
        increment = self.cost_ns(cost)
        interval = self._interval_ns
        capacity = interval * self.burst
        base = now_ns if tat is None or tat < now_ns else tat
        new_tat = base + increment
        allow_at = new_tat - capacity
        if allow_at > now_ns:
            return None, Decision(
                allowed=False,
                limit=self.burst,
                remaining=max(0, (now_ns + capacity - base) // interval),
                retry_after=(allow_at - now_ns) / _NS,
                reset_after=(base - now_ns) / _NS,
            )
        return new_tat, Decision(
            allowed=True,
            limit=self.burst,
            remaining=(now_ns + capacity - new_tat) // interval,
            retry_after=0.0,
            reset_after=(new_tat - now_ns) / _NS,
        )

    def hit(
        self, store: RateLimitStore, key: str, *, now: Instant | None = None, cost: int = 1
    ) -> Decision:
        """Take ``cost`` units for ``key`` if allowed, atomically, and return the decision.

        Args:
            store: Where the per-key state lives.
            key: Whose limit (for example ``"apikey:<key id>"``).
            now: The current time: an aware datetime or UNIX seconds (default: the clock).
            cost: Units this request takes (1 to ``burst``).

        Raises:
            ConfigurationError: If ``cost`` is not between 1 and ``burst`` or ``now`` is naive.

        .. versionadded:: 0.1.0
        """
        self.cost_ns(cost)  # refuse a bad cost before any store I/O
        return store.hit(key, self, cost=cost, now_ns=_to_ns(now))

    async def ahit(
        self, store: AsyncRateLimitStore, key: str, *, now: Instant | None = None, cost: int = 1
    ) -> Decision:
        """:meth:`hit` on an :class:`AsyncRateLimitStore` (such as ``AsyncRedisRateLimitStore``).

        Raises:
            ConfigurationError: As :meth:`hit`.

        .. versionadded:: 0.1.0
        """
        self.cost_ns(cost)  # refuse a bad cost before any store I/O
        return await store.hit(key, self, cost=cost, now_ns=_to_ns(now))

    def enforce(
        self, store: RateLimitStore, key: str, *, now: Instant | None = None, cost: int = 1
    ) -> Decision:
        """Like :meth:`hit`, but raise when the request is not allowed.

        Raises:
            RateLimited: With ``retry_after`` in seconds.

        .. versionadded:: 0.1.0
        """
        decision = self.hit(store, key, now=now, cost=cost)
        if not decision.allowed:
            raise RateLimited(retry_after=decision.retry_after)
        return decision
