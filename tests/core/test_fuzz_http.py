"""The mutation fuzzer itself, and the HTTP helpers under it.

Whatever a client sends (request line, header block, form, Authorization, Basic credentials)
ends in a typed error.  The engine and the targets are in ``tests/_fuzz.py``; ``python -m
benchmarks.fuzz_long`` runs them for longer.
"""

from __future__ import annotations

import random

import pytest

from authcore.errors import MalformedRequest
from tests._fuzz import CI_SEED, Target, assert_no_escape, attempt, http_targets, mutate, run


@pytest.mark.parametrize("target", http_targets(), ids=lambda t: t.name)
def test_http_parsers_raise_only_typed_errors(target: Target) -> None:
    """Mutated requests, headers, forms and credentials raise only VerificationError."""
    assert_no_escape(target, count=2000)


def test_the_fuzzer_reports_an_escape() -> None:
    """A target that lets a ValueError or a warning out is reported, with the input."""

    def leaky(text: str) -> None:
        if "%" in text:
            raise ValueError(text)
        if "=" in text:
            raise MalformedRequest("typed")
        import warnings  # noqa: PLC0415

        warnings.warn("parse warning", UserWarning, stacklevel=1)

    target = Target("leaky", leaky, ("a%20b", "a=b", "plain"))
    assert attempt(target, "a=b") is None
    value_error = attempt(target, "a%20b")
    warning = attempt(target, "plain")
    assert value_error is not None
    assert "ValueError" in value_error.error
    assert value_error.data == "a%20b"
    assert warning is not None
    assert "UserWarning" in warning.error
    _, escapes = run([target], seed=CI_SEED, count=50)
    assert escapes


def test_mutations_are_deterministic_and_bounded() -> None:
    """One seed gives one sequence of mutations; text stays text, bytes stay bytes."""
    seeds = ("a=b&c=%41", b"\x30\x03\x02\x01\x01")

    def sample(seed: int) -> list[str | bytes]:
        rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        return [mutate(rng, s, seeds) for s in seeds * 200]

    first = sample(1)
    assert first == sample(1)
    assert first != sample(2)
    assert all(isinstance(m, type(s)) for m, s in zip(first, seeds * 200, strict=True))
    assert max(len(m) for m in first) <= 1 << 16
