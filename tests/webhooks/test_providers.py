"""Stripe-style and GitHub-style signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.clock import utc_now
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    InvalidKeyError,
    InvalidSignature,
    MalformedHeader,
    Replayed,
    StaleTimestamp,
    VerificationError,
)
from authcore.http import Headers
from authcore.stores.memory import MemoryOneTimeStore
from authcore.webhooks import github, stripe

STRIPE_SECRET = "whsec_test_5f2b8c3d9e1a4f6b7c8d9e0f1a2b3c4d"
T = 1_700_000_000
BODY = b'{"id":"evt_1","object":"event"}'

# GitHub's documented example ("Validating webhook deliveries").
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def _stripe_hex(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------------- Stripe


def test_stripe_sign_matches_the_definition() -> None:
    """v1 is hex HMAC-SHA256 of 't.payload' keyed with the whole whsec_ text."""
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T)
    assert header == f"t={T},v1={_stripe_hex(STRIPE_SECRET, T, BODY)}"


def test_stripe_verify_round_trip() -> None:
    """A signed payload verifies and reports the timestamp."""
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T)
    result = stripe.verify(BODY, header, STRIPE_SECRET, now=T)
    assert result.payload == BODY
    assert result.timestamp == T
    assert result.key_index == 0
    assert result.sent_at == dt.datetime.fromtimestamp(T, dt.timezone.utc)
    assert result.json() == {"id": "evt_1", "object": "event"}


def test_stripe_several_v1_entries_and_secrets() -> None:
    """During a roll any v1 entry may match any secret; v0 entries are skipped."""
    other = "whsec_other_0123456789abcdef0123456789"
    header = f"t={T},v0=deadbeef,v1={'0' * 64},v1={_stripe_hex(other, T, BODY)}"
    assert stripe.verify(BODY, header, [STRIPE_SECRET, other], now=T).key_index == 1


def test_stripe_header_from_mapping_case_insensitive() -> None:
    """The Stripe-Signature header is found in any mapping, in any letter case."""
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T)
    for headers in ({"STRIPE-SIGNATURE": header}, Headers({"Stripe-Signature": header})):
        assert stripe.verify(BODY, headers, STRIPE_SECRET, now=T).timestamp == T
    with pytest.raises(MalformedHeader, match="repeated"):
        stripe.verify(
            BODY, [("stripe-signature", header), ("Stripe-Signature", header)], STRIPE_SECRET
        )
    with pytest.raises(MalformedHeader, match="missing"):
        stripe.verify(BODY, {"other": "x"}, STRIPE_SECRET, now=T)


def test_stripe_default_now_is_the_clock() -> None:
    """Without now, a fresh header verifies and an old one is stale."""
    current = int(utc_now().timestamp())
    fresh = stripe.sign(BODY, STRIPE_SECRET, timestamp=current)
    assert stripe.verify(BODY, fresh, STRIPE_SECRET).timestamp == current
    with pytest.raises(StaleTimestamp):
        stripe.verify(BODY, stripe.sign(BODY, STRIPE_SECRET, timestamp=T), STRIPE_SECRET)


def test_stripe_timestamp_an_hour_ahead_fails() -> None:
    """Tolerance applies in both directions: an hour ahead or behind is refused."""
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T + 3600)
    with pytest.raises(StaleTimestamp, match="future"):
        stripe.verify(BODY, header, STRIPE_SECRET, now=T)
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T - 3600)
    with pytest.raises(StaleTimestamp, match="old"):
        stripe.verify(BODY, header, STRIPE_SECRET, now=T)


def test_stripe_wrong_payload_or_secret_fails() -> None:
    """A changed body or another secret is InvalidSignature."""
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T)
    with pytest.raises(InvalidSignature):
        stripe.verify(BODY + b" ", header, STRIPE_SECRET, now=T)
    with pytest.raises(InvalidSignature):
        stripe.verify(BODY, header, "whsec_another", now=T)
    with pytest.raises(InvalidSignature, match="no v1"):
        stripe.verify(BODY, f"t={T},v0=abc", STRIPE_SECRET, now=T)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1=abc",
        f"t={T},t={T},v1=abc",
        f"t=+{T},v1=abc",
        f"t={T}.0,v1=abc",
        f"t=0{T},v1=abc",
        f"t= {T},v1=abc",
        f"t={T},garbage",
        f"t={T}," + ",".join(["v1=a"] * 40),
        f"t={T},v1=" + "a" * 5000,
    ],
    ids=repr,
)
def test_stripe_malformed_headers(header: str) -> None:
    """Missing or repeated t, non-canonical t, entries without '=', oversize are malformed."""
    with pytest.raises(MalformedHeader):
        stripe.verify(BODY, header, STRIPE_SECRET, now=T)


def test_stripe_replay_cache() -> None:
    """With a replay cache, the same signed delivery is accepted once."""
    cache = MemoryOneTimeStore()
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T)
    stripe.verify(BODY, header, STRIPE_SECRET, now=T, replay_cache=cache)
    with pytest.raises(Replayed):
        stripe.verify(BODY, header, STRIPE_SECRET, now=T + 1, replay_cache=cache)


def test_stripe_sign_arguments() -> None:
    """sign() takes int or aware datetime timestamps and refuses the rest."""
    when = dt.datetime.fromtimestamp(T, dt.timezone.utc)
    assert stripe.sign(BODY, STRIPE_SECRET, timestamp=when) == stripe.sign(
        BODY, STRIPE_SECRET, timestamp=T
    )
    for bad in (-1, float("inf"), "1", True, 10**16):
        with pytest.raises(ConfigurationError):
            stripe.sign(BODY, STRIPE_SECRET, timestamp=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["", " whsec_x", "whsec_x\n", b""], ids=repr)
def test_provider_secrets_must_be_clean(secret: str | bytes) -> None:
    """Empty secrets or secrets with surrounding whitespace are refused at setup."""
    with pytest.raises(InvalidKeyError):
        stripe.sign(BODY, secret, timestamp=T)
    with pytest.raises(InvalidKeyError):
        github.sign(BODY, secret)


@pytest.mark.parametrize("secrets", [[], 5, [5], bytearray(b"x")], ids=repr)
def test_provider_secret_types(secrets: Any) -> None:
    """No secret, or secrets of another type, are configuration errors."""
    with pytest.raises(ConfigurationError):
        stripe.verify(BODY, f"t={T},v1=ab", secrets, now=T)
    with pytest.raises(ConfigurationError):
        github.verify(BODY, GITHUB_SIGNATURE, secrets)


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_stripe_garbage_raises_only_verification_errors(header: str) -> None:
    """Any header text gives a typed verification error."""
    with pytest.raises(VerificationError):
        stripe.verify(BODY, header, STRIPE_SECRET, now=T)


# ----------------------------------------------------------------------------- GitHub


def test_github_documented_vector() -> None:
    """GitHub's documented secret and payload give the documented signature."""
    assert github.sign(GITHUB_PAYLOAD, GITHUB_SECRET) == GITHUB_SIGNATURE
    result = github.verify(GITHUB_PAYLOAD, GITHUB_SIGNATURE, GITHUB_SECRET)
    assert result.payload == GITHUB_PAYLOAD
    assert result.key_index == 0


def test_github_header_from_mapping_and_rotation() -> None:
    """The header is read case-insensitively; the matching secret's index is returned."""
    headers = {"X-Hub-Signature-256": GITHUB_SIGNATURE, "X-GitHub-Delivery": "abc"}
    assert github.verify(GITHUB_PAYLOAD, headers, ["old", GITHUB_SECRET]).key_index == 1
    assert github.verify(GITHUB_PAYLOAD, headers, GITHUB_SECRET.encode()).key_index == 0
    assert (
        github.verify(
            b'{"a": 1}', {"x-hub-signature-256": github.sign(b'{"a": 1}', "s")}, "s"
        ).key_index
        == 0
    )
    with pytest.raises(MalformedHeader, match="missing"):
        github.verify(GITHUB_PAYLOAD, {"X-Hub-Signature": "sha1=abc"}, GITHUB_SECRET)


def test_github_json_helper() -> None:
    """The verified payload parses as strict JSON."""
    body = b'{"action": "opened"}'
    assert github.verify(body, github.sign(body, "s"), "s").json() == {"action": "opened"}


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha1=" + "a" * 40,
        GITHUB_SIGNATURE[:-1],
        GITHUB_SIGNATURE + "0",
        "SHA256=" + GITHUB_SIGNATURE[7:],
    ],
    ids=repr,
)
def test_github_malformed_headers(header: str) -> None:
    """Anything but 'sha256=' and 64 characters is malformed."""
    with pytest.raises(MalformedHeader):
        github.verify(GITHUB_PAYLOAD, header, GITHUB_SECRET)


def test_github_wrong_signature_fails() -> None:
    """A different body, secret or case-changed hex is InvalidSignature."""
    with pytest.raises(InvalidSignature):
        github.verify(b"Hello, World?", GITHUB_SIGNATURE, GITHUB_SECRET)
    with pytest.raises(InvalidSignature):
        github.verify(GITHUB_PAYLOAD, GITHUB_SIGNATURE, "another secret")
    with pytest.raises(InvalidSignature):
        github.verify(GITHUB_PAYLOAD, GITHUB_SIGNATURE.upper().replace("SHA", "sha"), GITHUB_SECRET)


@given(st.text(max_size=80), st.binary(max_size=40))
@settings(max_examples=200)
def test_github_garbage_raises_only_authcore_errors(header: str, body: bytes) -> None:
    """Any header and body give a typed error, never a stdlib one."""
    with pytest.raises(AuthcoreError):
        github.verify(body, header, GITHUB_SECRET)


def test_now_and_timestamp_take_any_instant() -> None:
    """Stripe verify(now=) and sign(timestamp=) take datetimes, int or float seconds, or None."""
    at = dt.datetime.fromtimestamp(T, dt.timezone.utc)
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=T + 0.9)
    assert header == stripe.sign(BODY, STRIPE_SECRET, timestamp=at)
    for now in (T, float(T), at, T + 299.5):
        assert stripe.verify(BODY, header, STRIPE_SECRET, now=now).timestamp == T
    fresh = stripe.sign(BODY, STRIPE_SECRET)  # signed now, verified against the clock
    assert stripe.verify(BODY, fresh, STRIPE_SECRET).timestamp > T
