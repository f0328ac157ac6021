"""Option values checked where they are given: one rule, one implementation, one message.

Options arrive from callers that may not be type-checked (and from configuration files), so
every integer option is checked at run time, ``bool`` refused (``True`` is an ``int``).
"""

from __future__ import annotations

from authcore.errors import ConfigurationError

__all__ = ["int_option", "int_problem"]


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
