"""The errors-to-HTTP guide covers every error class, and RateLimited.headers()."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from authcore import errors
from authcore.ratelimit import Decision

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "errors-to-http.rst"
_ROW_RE = re.compile(
    r"^   \* - :class:`~authcore\.errors\.(\w+)`\n     - (\d{3}|n/a)$", re.MULTILINE
)


def _rows() -> dict[str, str]:
    return dict(_ROW_RE.findall(GUIDE.read_text(encoding="utf-8")))


def _error_classes() -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.AuthcoreError)
        and value.__module__ == errors.__name__
        and not issubclass(value, errors.OAuthError)  # each carries its own status
    }


def test_every_error_class_has_a_row() -> None:
    """Adding an error class without a row in the guide's table fails here."""
    assert set(_rows()) == _error_classes()


def test_oauth_errors_carry_a_peer_status() -> None:
    """OAuth errors, left out of the table, answer 4xx (server_error 500, unavailable 503)."""
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.OAuthError) and cls is not errors.OAuthError:
            allowed = {500} if name == "OAuthServerError" else {400, 401, 403, 503}
            assert cls.status in allowed, name


def test_rows_follow_the_rules() -> None:
    """Peer failures never answer 500; rate limits 429, fetch/store 503, scope 403."""
    rows = _rows()
    for name, status in rows.items():
        cls = getattr(errors, name)
        if issubclass(cls, errors.VerificationError):
            assert status in {"400", "401", "403", "429", "503"}, name
    assert rows["RateLimited"] == "429"
    assert rows["InsufficientScope"] == "403"
    assert rows["FetchError"] == rows["StoreError"] == "503"
    assert rows["MalformedRequest"] == "400"
    assert rows["AuthenticationFailed"] == "401"


def test_rate_limited_headers_round_retry_after_up() -> None:
    """Retry-After is a whole number of seconds, rounded up."""
    assert errors.RateLimited(retry_after=0.2).headers() == {"Retry-After": "1"}
    assert errors.RateLimited(retry_after=3.0).headers() == {"Retry-After": "3"}
    assert errors.RateLimited().headers() == {"Retry-After": "0"}


def test_rate_limited_headers_carry_the_limit_when_known() -> None:
    """With the refusing limit known, RateLimit-* headers come with Retry-After."""
    error = errors.RateLimited(retry_after=1.5, limit=10, reset_after=9.1)
    assert error.headers() == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "10",
        "Retry-After": "2",
    }


@pytest.mark.parametrize("retry_after", [0.001, 0.5, 1.0, 59.99])
def test_rate_limited_headers_match_the_decision(retry_after: float) -> None:
    """RateLimited.headers() equals the refused Decision's headers."""
    decision = Decision(
        allowed=False, limit=5, remaining=0, retry_after=retry_after, reset_after=4.2
    )
    error = errors.RateLimited(retry_after=retry_after, limit=5, reset_after=4.2)
    assert error.headers() == decision.headers()
