"""Option values checked where they are given: one rule, one implementation, one message.

Options arrive from callers that may not be type-checked (and from configuration files), so
every integer option is checked at run time, ``bool`` refused (``True`` is an ``int``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, cast

from authcore.errors import ConfigurationError

__all__ = [
    "MAX_SECONDS",
    "bool_option",
    "bool_problem",
    "int_option",
    "int_problem",
    "is_choice",
    "mapping_option",
    "seconds_option",
    "str_option",
    "strings_option",
    "strings_problem",
]


MAX_SECONDS: Final = 100 * 366 * 86_400
"""The longest duration option accepted, in seconds (a century): longer ones overflow
``datetime`` arithmetic and socket timeouts, and no lifetime or timeout needs them."""


def int_option(value: object, name: str, *, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) from ``low`` to ``high``.

    Args:
        value: The option's value.
        name: The option's name, for the message.
        low: The smallest accepted value (default 1: a count, size or interval).
        high: The largest accepted value, or ``None`` for no upper bound.

    Raises:
        ConfigurationError: ``"{name} must be an int >= {low}"``, or with ``high``
            ``"{name} must be an int from {low} to {high}"``.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        if high is None:
            raise ConfigurationError(f"{name} must be an int >= {low:,}")
        raise ConfigurationError(f"{name} must be an int from {low:,} to {high:,}")
    return value


def int_problem(value: object, name: str, *, low: int = 1, high: int | None = None) -> str | None:
    """:func:`int_option`'s message for ``value``, or ``None`` if it is accepted.

    For a configuration object that reports every problem at once.
    """
    try:
        int_option(value, name, low=low, high=high)
    except ConfigurationError as exc:
        return exc.errors[0]
    return None


def bool_problem(value: object, name: str) -> str | None:
    """``"{name} must be a bool"`` unless ``value`` is ``True`` or ``False``, else ``None``.

    A flag given as ``"false"`` or ``0`` would otherwise read as truthy or falsy by accident.
    """
    return None if isinstance(value, bool) else f"{name} must be a bool"


def bool_option(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``.

    Raises:
        ConfigurationError: ``"{name} must be a bool"`` (see :func:`bool_problem`).
    """
    problem = bool_problem(value, name)
    if problem is not None:
        raise ConfigurationError(problem)
    return cast("bool", value)


def strings_problem(value: object, name: str) -> str | None:
    """``"{name} must be a tuple of non-empty strings"`` unless it is one, else ``None``.

    A bare string is refused: iterated, ``"read"`` would become ``r``, ``e``, ``a``, ``d``.
    """
    if isinstance(value, tuple) and all(isinstance(item, str) and item for item in value):
        return None
    return f"{name} must be a tuple of non-empty strings"


def str_option(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty ``str``.

    Raises:
        ConfigurationError: ``"{name} must be a non-empty string"``.
    """
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    return value


def strings_option(value: object, name: str, *, empty: bool = False) -> tuple[str, ...]:
    """One string or an iterable of them (a list, tuple or set) as a tuple of non-empty strings.

    Args:
        value: The option's value: ``"a"`` means ``("a",)``.
        name: The option's name, for the message.
        empty: Whether no string at all is accepted.

    Raises:
        ConfigurationError: ``"{name} must be a non-empty string or list of strings"``.
    """
    if isinstance(value, str):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(
        value, (bytes, bytearray, memoryview, Mapping)
    ):
        items = tuple(cast("Iterable[object]", value))
    else:
        items = ()
        empty = False
    if (not items and not empty) or not all(isinstance(i, str) and i for i in items):
        raise ConfigurationError(f"{name} must be a non-empty string or list of strings")
    return cast("tuple[str, ...]", items)


def mapping_option(value: object, name: str) -> dict[str, Any]:
    """A copy of a mapping option (``None`` is empty); anything else is refused.

    ``dict(value)`` of a string or list would raise a bare ``ValueError`` or build nonsense,
    and ``value or {}`` would silently drop a falsy non-mapping such as ``0`` or ``""``.

    Raises:
        ConfigurationError: ``"{name} must be a mapping or None"``.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a mapping or None")
    return dict(cast("Mapping[str, Any]", value))


def seconds_option(
    value: object, name: str, *, positive: bool = True, high: float = MAX_SECONDS
) -> float:
    """A duration option, ``int``/``float`` seconds or a ``timedelta``, as float seconds.

    Args:
        value: The option's value.
        name: The option's name, for the message.
        positive: Whether 0 is refused (a timeout, a lifetime) or accepted (a leeway).
        high: The longest accepted (default and at most :data:`MAX_SECONDS`).

    Raises:
        ConfigurationError: Not finite, out of range or not a number: ``"{name} must be
            seconds or a timedelta, > 0 and at most ..."`` (or ``from 0 to ...``).
    """
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range
            seconds = math.inf
    else:
        seconds = math.nan
    high = min(high, MAX_SECONDS)
    if not (seconds > 0 if positive else seconds >= 0) or not seconds <= high:
        bounds = "> 0 and at most" if positive else "from 0 to"
        limit = f"{high:,.0f}" + (" (a century)" if high == MAX_SECONDS else "")
        raise ConfigurationError(f"{name} must be seconds or a timedelta, {bounds} {limit}")
    return seconds


def is_choice(value: object, choices: Collection[str]) -> bool:
    """Whether ``value`` is one of the string ``choices``.

    ``value in choices`` raises a bare ``TypeError`` for an unhashable value (a list) when
    ``choices`` is a set or dict; this answers ``False`` for anything but a string.
    """
    return isinstance(value, str) and value in choices
