"""Time sources.  This is the only module that reads the wall clock.

Every time-sensitive authcore function takes ``now`` or a :class:`Clock`; tests pass a
:class:`FixedClock` instead of patching time.  ``now=`` takes the same values everywhere
(:data:`Instant`): an aware :class:`~datetime.datetime`, or a number of seconds since the UNIX
epoch (``int`` or ``float``, never ``bool``); ``None`` means the system clock.  A naive
datetime is refused with an error naming the parameter.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from authcore._fork import lock as fork_safe_lock
from authcore.errors import ConfigurationError

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = [
    "Clock",
    "FixedClock",
    "Instant",
    "SystemClock",
    "as_datetime",
    "as_unix",
    "ensure_aware",
    "unix_now",
    "utc_now",
]

_UTC = dt.timezone.utc

Instant: TypeAlias = dt.datetime | int | float
"""What every ``now=`` parameter accepts: an aware datetime or UNIX seconds."""


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware."""
        ...


# The UNIX seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: what a datetime can hold.
_MIN_UNIX: Final = -62_135_596_800.0
_MAX_UNIX: Final = 253_402_300_799.0


def utc_now() -> dt.datetime:
    """Return the current wall-clock time as an aware UTC datetime."""
    return dt.datetime.now(_UTC)


def unix_now() -> float:
    """Return the current wall-clock time in seconds since the epoch.

    The same instant as :func:`utc_now`, without building a datetime: verification hot paths
    (JWT claims, webhook timestamps) compare NumericDates and use this when no clock was
    injected.
    """
    return time.time()


def ensure_aware(value: dt.datetime, *, name: str = "now") -> dt.datetime:
    """Return ``value`` converted to UTC, refusing naive datetimes.

    Args:
        value: A timezone-aware datetime.
        name: The parameter name, for the error message.

    Raises:
        ConfigurationError: If ``value`` is not a datetime or is naive.
    """
    if type(value) is dt.datetime and value.tzinfo is _UTC:
        return value  # aware and already UTC (the usual case): nothing to convert
    if not isinstance(value, dt.datetime):
        raise ConfigurationError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"{name} must be timezone-aware (use datetime.timezone.utc)")
    return value.astimezone(_UTC)


def as_unix(value: object, *, name: str = "now") -> float:
    """Return an :data:`Instant` (or ``None``: the wall clock) as UNIX seconds.

    Args:
        value: An aware datetime, finite ``int``/``float`` seconds since the epoch, or ``None``.
        name: The parameter name, for the error message.

    Raises:
        ConfigurationError: For a naive datetime, a ``bool``, a non-finite number, seconds
            outside the years 1 to 9999 (what a datetime holds) or any other type; the
            message names ``name``.
    """
    if value is None:
        return time.time()
    if isinstance(value, dt.datetime):
        return ensure_aware(value, name=name).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range
            seconds = math.inf
        if _MIN_UNIX <= seconds <= _MAX_UNIX:
            return seconds
        if math.isfinite(seconds):
            raise ConfigurationError(f"{name} is out of the datetime range (years 1 to 9999)")
        raise ConfigurationError(f"{name} must be a finite number of seconds")
    raise ConfigurationError(
        f"{name} must be an aware datetime or UNIX seconds, got {type(value).__name__}"
    )


def as_datetime(value: object, *, name: str = "now") -> dt.datetime:
    """Return an :data:`Instant` (or ``None``: the wall clock) as an aware UTC datetime.

    Raises:
        ConfigurationError: As :func:`as_unix`, and for seconds outside the datetime range.
    """
    if value is None:
        return utc_now()
    if isinstance(value, dt.datetime):
        return ensure_aware(value, name=name)
    seconds = as_unix(value, name=name)
    try:
        return dt.datetime.fromtimestamp(seconds, _UTC)
    except (OverflowError, OSError, ValueError):
        raise ConfigurationError(f"{name} is out of the datetime range") from None


class SystemClock:
    """The wall clock, in UTC."""

    __slots__ = ()

    def now(self) -> dt.datetime:
        """Return the current wall-clock time."""
        return utc_now()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that only moves when told to; thread-safe.

    Args:
        at: The initial time (aware).
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, at: dt.datetime) -> None:
        self._now = ensure_aware(at, name="at")
        self._lock = fork_safe_lock()

    def now(self) -> dt.datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, at: dt.datetime) -> None:
        """Move the clock to ``at`` (backwards is allowed, to test clock skew)."""
        value = ensure_aware(at, name="at")
        with self._lock:
            self._now = value

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds) and return the new time."""
        step = delta if isinstance(delta, dt.timedelta) else dt.timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"
