"""``now=`` takes the same values everywhere: aware datetimes or UNIX seconds."""

from __future__ import annotations

import datetime as dt

import pytest

from authcore.clock import as_datetime, as_unix
from authcore.errors import ConfigurationError

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000.5, 1_700_000_000.5),
        (dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 1_700_000_000.0),
        (dt.datetime(2023, 11, 14, 23, 13, 20, tzinfo=dt.timezone(dt.timedelta(hours=1))), 1.7e9),
    ],
)
def test_instants_convert_both_ways(value: object, seconds: float) -> None:
    """Numbers and aware datetimes name the same instant in both conversions."""
    assert as_unix(value) == seconds
    assert as_datetime(value) == dt.datetime.fromtimestamp(seconds, UTC)
    assert as_datetime(value).tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "exp must be an aware datetime or UNIX seconds, got bool"),
        ("1700000000", "got str"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (dt.datetime(2023, 1, 1), "exp must be timezone-aware"),  # noqa: DTZ001 - the point
        (1e20, "exp is out of the datetime range"),
    ],
)
def test_bad_instants_name_the_parameter(value: object, message: str) -> None:
    """Anything else is a ConfigurationError naming the parameter, never a bare exception."""
    with pytest.raises(ConfigurationError, match=message):
        as_datetime(value, name="exp")


def test_none_is_the_wall_clock() -> None:
    """``None`` reads the system clock."""
    before = dt.datetime.now(UTC)
    assert before <= as_datetime(None) <= dt.datetime.now(UTC)
    assert before.timestamp() <= as_unix(None)
