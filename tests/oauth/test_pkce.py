"""PKCE (RFC 7636): the appendix B vector, the grammar, S256 only, downgrade refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore.errors import InvalidGrant, InvalidRequest
from authcore.oauth import pkce

# RFC 7636 Appendix B, recomputed with hashlib (OAUTH.md section 4.1).
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc7636_appendix_b_vector() -> None:
    """S256 of the appendix B verifier is the appendix B challenge, and it verifies."""
    assert pkce.s256_challenge(VERIFIER) == CHALLENGE
    pkce.verify(VERIFIER, CHALLENGE, "S256")


def test_verifier_grammar_negatives() -> None:
    """42 and 129 characters, '+' and '/' are refused with invalid_grant."""
    for bad in ("a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "/", "a" * 42 + " "):
        with pytest.raises(InvalidGrant):
            pkce.check_verifier(bad)
    assert pkce.check_verifier("a" * 43) == "a" * 43
    assert pkce.check_verifier("A-._~" * 25 + "abc") == "A-._~" * 25 + "abc"


def test_challenge_grammar_and_methods() -> None:
    """A malformed challenge or unknown method is invalid_request; plain only when enabled."""
    with pytest.raises(InvalidRequest):
        pkce.check_challenge("short", "S256")
    with pytest.raises(InvalidRequest):
        pkce.check_challenge(CHALLENGE, "S512")
    with pytest.raises(InvalidRequest):
        pkce.check_challenge(CHALLENGE, "plain")
    with pytest.raises(InvalidRequest):
        pkce.check_challenge(CHALLENGE, None)  # absent method means plain
    assert pkce.check_challenge(CHALLENGE, None, allow_plain=True) == (CHALLENGE, "plain")
    assert pkce.check_challenge(CHALLENGE, "S256") == (CHALLENGE, "S256")


def test_plain_passes_only_with_equal_verifier() -> None:
    """With plain, challenge == verifier verifies; anything else is invalid_grant."""
    pkce.verify(VERIFIER, VERIFIER, "plain")
    with pytest.raises(InvalidGrant):
        pkce.verify(VERIFIER, CHALLENGE, "plain")


def test_pkce_downgrade_refused() -> None:
    """A verifier for a code issued without a challenge is refused (RFC 9700 section 4.8.2)."""
    with pytest.raises(InvalidGrant):
        pkce.verify(VERIFIER, None, None)
    pkce.verify(None, None, None)


def test_missing_or_wrong_verifier() -> None:
    """A stored challenge needs the matching verifier."""
    with pytest.raises(InvalidGrant):
        pkce.verify(None, CHALLENGE, "S256")
    with pytest.raises(InvalidGrant):
        pkce.verify("x" * 43, CHALLENGE, "S256")


def test_create_pair_round_trips() -> None:
    """A fresh pair is S256, 43 characters, and verifies."""
    pair = pkce.create_pair()
    assert pair.method == "S256"
    assert len(pair.verifier) == 43
    pkce.verify(pair.verifier, pair.challenge, pair.method)
    assert pair.verifier not in repr(pair)


@given(st.text(max_size=200))
def test_verifier_check_never_raises_anything_else(text: str) -> None:
    """Arbitrary text is accepted or refused with InvalidGrant, nothing else."""
    try:
        pkce.verify(text, CHALLENGE, "S256")
    except InvalidGrant:
        pass
