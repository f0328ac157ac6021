"""Errors, constant-time comparison and clocks."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
import threading
from pathlib import Path

import pytest

import authcore
from authcore import errors
from authcore._ct import bytes_eq
from authcore.clock import Clock, FixedClock, SystemClock, ensure_aware, utc_now
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    InsufficientScope,
    InvalidClaim,
    RateLimited,
    RevokedCertificate,
    VerificationError,
)

_PACKAGE = Path(authcore.__file__).parent
_UTC = dt.timezone.utc


def _error_classes() -> list[type[AuthcoreError]]:
    return [
        obj
        for name in errors.__all__
        if isinstance(obj := getattr(errors, name), type) and issubclass(obj, AuthcoreError)
    ]


def test_every_error_is_exported_and_under_the_root() -> None:
    """__all__ lists every class of the module, all below AuthcoreError."""
    defined = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if obj.__module__ == errors.__name__
    }
    assert defined == set(errors.__all__)
    assert all(issubclass(cls, AuthcoreError) for cls in _error_classes())


def test_error_codes_are_unique_and_stable_shaped() -> None:
    """Each class has its own snake_case code."""
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", code) for code in codes)


def test_error_tree_is_drawn_in_the_docstring() -> None:
    """The module docstring's tree names every class."""
    doc = errors.__doc__ or ""
    missing = [
        cls.__name__
        for cls in _error_classes()
        if not re.search(rf"^[\s|]+(\+-- )?{cls.__name__}\b", doc, re.MULTILINE)
    ]
    assert missing == []


def test_verification_error_message_and_reason() -> None:
    """str() is the fixed message plus reason; reason is kept for logs."""
    exc = errors.ExpiredToken("exp is in the past", claim="exp")
    assert str(exc) == "token expired: exp is in the past"
    assert exc.reason == "exp is in the past"
    assert exc.claim == "exp"
    assert isinstance(exc, InvalidClaim)
    assert isinstance(exc, VerificationError)
    assert str(errors.InvalidSignature()) == "invalid signature"


def test_configuration_error_aggregates() -> None:
    """ConfigurationError keeps every problem found."""
    exc = ConfigurationError(errors=("a is wrong", "b is wrong"))
    assert exc.errors == ("a is wrong", "b is wrong")
    assert str(exc) == "invalid configuration: a is wrong; b is wrong"
    single = ConfigurationError("only one")
    assert single.errors == ("only one",)


def test_errors_with_data() -> None:
    """Errors that carry data keep it in attributes."""
    assert InsufficientScope(missing=("write", "admin")).missing == ("admin", "write")
    assert "admin write" in str(InsufficientScope(missing=("write", "admin")))
    assert RateLimited(retry_after=1.5).retry_after == 1.5
    when = dt.datetime(2026, 1, 1, tzinfo=_UTC)
    revoked = RevokedCertificate("leaf", revocation_reason="keyCompromise", revocation_date=when)
    assert (revoked.revocation_reason, revoked.revocation_date) == ("keyCompromise", when)


def test_bytes_eq() -> None:
    """bytes_eq compares bytes and refuses anything else."""
    assert bytes_eq(b"abc", b"abc")
    assert not bytes_eq(b"abc", b"abd")
    assert not bytes_eq(b"abc", b"abcd")
    with pytest.raises(TypeError):
        bytes_eq("abc", b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bytes_eq(b"abc", bytearray(b"abc"))  # type: ignore[arg-type]


_SECRET_NAME = re.compile(r"(^|_)(digest|mac|hmac|signature|sig|secret|tag|hash|mac_key)s?$")


def _operand_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Subscript):
        return _operand_names(node.value)
    return []


def test_secrets_are_compared_only_in_constant_time() -> None:
    """No `==`/`!=` in the package applies to a digest, MAC, signature, tag or secret."""
    offenders: list[str] = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                continue
            names = [n for part in (node.left, *node.comparators) for n in _operand_names(part)]
            if any(_SECRET_NAME.search(name.lower()) for name in names):
                line = lines[node.lineno - 1]
                if "ct-ok:" not in line:
                    offenders.append(f"{path.relative_to(_PACKAGE)}:{node.lineno}: {line.strip()}")
    assert offenders == []


def test_the_grep_would_catch_a_plain_comparison() -> None:
    """The constant-time check flags `expected_mac == mac` (the check can fail)."""
    tree = ast.parse("ok = expected_mac == provided.signature")
    compare = next(n for n in ast.walk(tree) if isinstance(n, ast.Compare))
    names = [n for part in (compare.left, *compare.comparators) for n in _operand_names(part)]
    assert [bool(_SECRET_NAME.search(n)) for n in names] == [True, True]


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    """datetime.now/utcnow and time.time appear only in authcore/clock.py and the bench engine."""
    pattern = re.compile(r"\b(datetime\.now|datetime\.utcnow|time\.time\(|\.today\()")
    allowed = {"clock.py"}
    offenders = [
        str(path.relative_to(_PACKAGE))
        for path in _PACKAGE.rglob("*.py")
        if str(path.relative_to(_PACKAGE)) not in allowed
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_system_clock_is_aware_utc() -> None:
    """SystemClock returns the current aware UTC time."""
    before = utc_now()
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == dt.timedelta(0)
    assert now >= before
    assert isinstance(SystemClock(), Clock)
    assert repr(SystemClock()) == "SystemClock()"


def test_fixed_clock_moves_only_when_told() -> None:
    """FixedClock stands still, advances, and can be set backwards."""
    start = dt.datetime(2026, 11, 29, 12, 0, tzinfo=_UTC)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.advance(30) == start + dt.timedelta(seconds=30)
    assert clock.advance(dt.timedelta(minutes=1)) == start + dt.timedelta(seconds=90)
    clock.set(start - dt.timedelta(days=1))
    assert clock.now() == start - dt.timedelta(days=1)
    assert "2026-11-28" in repr(clock)
    assert isinstance(clock, Clock)


def test_fixed_clock_is_thread_safe() -> None:
    """Concurrent advances are all applied."""
    clock = FixedClock(dt.datetime(2026, 1, 1, tzinfo=_UTC))

    def work() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now() == dt.datetime(2026, 1, 1, tzinfo=_UTC) + dt.timedelta(seconds=4000)


def test_naive_and_non_datetimes_are_refused() -> None:
    """Naive datetimes are a ConfigurationError; other zones convert to UTC."""
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        FixedClock(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ConfigurationError, match="must be a datetime"):
        ensure_aware(1234)  # type: ignore[arg-type]
    plus_two = dt.timezone(dt.timedelta(hours=2))
    converted = ensure_aware(dt.datetime(2026, 1, 1, 2, 0, tzinfo=plus_two))
    assert converted == dt.datetime(2026, 1, 1, 0, 0, tzinfo=_UTC)
    assert converted.tzinfo == _UTC


def test_ensure_aware_returns_a_utc_datetime_as_it_is() -> None:
    """A UTC datetime comes back as it is; a subclass or another zone goes the checked way."""
    utc = dt.datetime(2026, 1, 1, tzinfo=_UTC)
    assert ensure_aware(utc) is utc

    class Sub(dt.datetime):
        pass

    sub = Sub(2026, 1, 1, tzinfo=_UTC)
    assert ensure_aware(sub) == utc
    plus_one = dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert ensure_aware(plus_one).tzinfo is _UTC
    assert ensure_aware(plus_one) == utc
