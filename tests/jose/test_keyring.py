"""KeyRing: one active signing key, pre-published successors, retirement; end-to-end rotation."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from authcore.clock import FixedClock
from authcore.errors import ConfigurationError, DecryptionFailed, InvalidKeyError, KeyNotFound
from authcore.jose import JWK, JWTVerifier, KeyResolver, jwe, jwt
from authcore.jose.jwks import JWKSCache
from authcore.jose.keyring import SEALED_CONTENT_TYPE, KeyRing, KeyState, RingKey

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)
K1 = JWK.generate("ES256", kid="k1")
_UNNAMED = JWK.from_dict({k: v for k, v in K1.to_dict(private=True).items() if k != "kid"})
K2 = JWK.generate("EdDSA", kid="k2")
K3 = JWK.generate("ES256", kid="k3")


def ring_at(clock: FixedClock) -> KeyRing:
    return KeyRing.create(K1, clock=clock)


def test_sign_jwt_uses_the_active_key_and_sets_kid() -> None:
    """Tokens carry the active key's kid and alg and verify with the published set."""
    clock = FixedClock(T0)
    ring = ring_at(clock)
    token = ring.sign_jwt({"sub": "u", "exp": T0 + HOUR})
    header = jwt.decode_unverified(token).header
    assert header["kid"] == "k1"
    assert header["alg"] == "ES256"
    claims = JWTVerifier(ring, algorithms=["ES256"], clock=clock).verify(token)
    assert claims["sub"] == "u"


def test_jwks_publishes_public_keys_only_including_the_next_key() -> None:
    """jwks() holds no private members and announces the next key before it signs."""
    clock = FixedClock(T0)
    ring = ring_at(clock).plan_rotation(K2, activate_at=T0 + HOUR, retire_previous_at=T0 + 3 * HOUR)
    document = ring.jwks()
    assert [k["kid"] for k in document["keys"]] == ["k1", "k2"]
    assert all("d" not in k for k in document["keys"])
    assert ring.active().kid == "k1"
    assert ring.active(now=T0 + HOUR).kid == "k2"
    assert isinstance(ring, KeyResolver)


def test_states_follow_the_schedule() -> None:
    """Each key moves next -> active -> previous -> retired at the scheduled times."""
    clock = FixedClock(T0)
    ring = ring_at(clock).plan_rotation(K2, activate_at=T0 + HOUR, retire_previous_at=T0 + 3 * HOUR)
    assert (ring.state("k1"), ring.state("k2")) == (KeyState.ACTIVE, KeyState.NEXT)
    clock.set(T0 + HOUR)
    assert (ring.state("k1"), ring.state("k2")) == (KeyState.PREVIOUS, KeyState.ACTIVE)
    clock.set(T0 + 3 * HOUR)
    assert (ring.state("k1"), ring.state("k2")) == (KeyState.RETIRED, KeyState.ACTIVE)
    assert [k.kid for k in ring] == ["k2"]
    assert ring.get("k1") is None
    assert [e.key.kid for e in ring.prune().entries] == ["k2"]
    with pytest.raises(ConfigurationError, match="no ring key"):
        ring.state("nope")


def test_end_to_end_rotation_through_a_jwks_cache() -> None:
    """Old tokens verify until their key retires, then fail with KeyNotFound; new ones verify."""
    clock = FixedClock(T0)
    issuer: dict[str, KeyRing] = {"ring": ring_at(clock)}
    fetches: list[dt.datetime] = []

    def fetch() -> dict[str, Any]:
        fetches.append(clock.now())
        return issuer["ring"].jwks()

    cache = JWKSCache(fetch, clock=clock, ttl=300, cooldown=30)
    verifier = JWTVerifier(cache, algorithms=["ES256", "EdDSA"], clock=clock)
    long_lived = issuer["ring"].sign_jwt({"sub": "old", "exp": T0 + 24 * HOUR})
    assert verifier.verify(long_lived)["sub"] == "old"

    # Planned rotation: publish k2 now, it signs from +1h, k1 is retired at +3h.
    clock.set(T0 + 0.5 * HOUR)
    issuer["ring"] = issuer["ring"].plan_rotation(
        K2, activate_at=T0 + HOUR, retire_previous_at=T0 + 3 * HOUR
    )
    clock.set(T0 + HOUR)
    new = issuer["ring"].sign_jwt({"sub": "new", "exp": T0 + 24 * HOUR})
    assert jwt.decode_unverified(new).header["kid"] == "k2"
    assert verifier.verify(new)["sub"] == "new"
    assert verifier.verify(long_lived)["sub"] == "old"
    # The ttl refresh had already brought k2: no fetch was caused by the unknown kid.
    assert len(fetches) == 2

    clock.set(T0 + 3 * HOUR - dt.timedelta(seconds=1))
    assert verifier.verify(long_lived)["sub"] == "old"
    clock.set(T0 + 3 * HOUR)
    clock.advance(300)  # the verifier's cache refreshes after its ttl
    assert verifier.verify(new)["sub"] == "new"
    with pytest.raises(KeyNotFound) as info:
        verifier.verify(long_lived)
    assert info.value.reason == "no key for this kid"
    assert issuer["ring"].state("k1") is KeyState.RETIRED


def test_unplanned_rotation_is_picked_up_after_one_fetch() -> None:
    """rotate() switches signing at once; verifiers fetch once for the unknown kid."""
    clock = FixedClock(T0)
    holder = {"ring": ring_at(clock)}
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        return holder["ring"].jwks()

    verifier = JWTVerifier(
        JWKSCache(fetch, clock=clock), algorithms=["ES256", "EdDSA"], clock=clock
    )
    verifier.verify(holder["ring"].sign_jwt({"exp": T0 + HOUR}))
    clock.advance(60)
    holder["ring"] = holder["ring"].rotate(K2, retire_previous_at=clock.now() + HOUR)
    for _ in range(10):
        verifier.verify(holder["ring"].sign_jwt({"exp": T0 + HOUR}))
    assert len(calls) == 2


def test_retiring_the_active_key_leaves_no_signing_key() -> None:
    """An emergency retirement never falls back to an older key."""
    clock = FixedClock(T0)
    ring = ring_at(clock).rotate(K2, retire_previous_at=T0 + HOUR, now=T0 + 60 * SECOND)
    clock.set(T0 + 120 * SECOND)
    ring = ring.retire("k2")
    with pytest.raises(ConfigurationError, match="no active signing key"):
        ring.sign_jwt({"exp": T0 + 2 * HOUR})
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["k1"]  # published, yet never signs
    ring = ring.rotate(K3, retire_previous_at=clock.now() + HOUR)
    assert jwt.decode_unverified(ring.sign_jwt({})).header["kid"] == "k3"


def test_retire_keeps_an_earlier_retirement_and_checks_kid() -> None:
    """retire() never postpones a scheduled retirement and refuses unknown kids."""
    clock = FixedClock(T0)
    ring = ring_at(clock).plan_rotation(K2, activate_at=T0 + HOUR, retire_previous_at=T0 + 2 * HOUR)
    assert ring.retire("k1", at=T0 + 5 * HOUR).entries[0].retire_at == T0 + 2 * HOUR
    assert ring.retire("k1", at=T0 + HOUR).entries[0].retire_at == T0 + HOUR
    with pytest.raises(ConfigurationError, match="no ring key"):
        ring.retire("zz")
    with pytest.raises(ConfigurationError, match="after active_from"):
        ring.retire("k2", at=T0)


def test_no_key_is_active_before_the_first_start() -> None:
    """A ring whose first key starts in the future cannot sign yet."""
    clock = FixedClock(T0)
    ring = KeyRing([RingKey(key=K1, active_from=T0 + HOUR)], clock=clock)
    with pytest.raises(ConfigurationError, match="none started"):
        ring.active()
    assert ring.state("k1") is KeyState.NEXT


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"activate_at": T0, "retire_previous_at": T0 + HOUR}, "after the latest"),
        ({"activate_at": T0 + HOUR, "retire_previous_at": T0}, "must not be before"),
        ({"activate_at": T0.replace(tzinfo=None), "retire_previous_at": T0}, "timezone-aware"),
    ],
)
def test_plan_rotation_checks_the_order_of_times(change: dict[str, Any], reason: str) -> None:
    """Out-of-order or naive rotation times are configuration errors."""
    ring = ring_at(FixedClock(T0))
    with pytest.raises(ConfigurationError, match=reason):
        ring.plan_rotation(K2, **change)


def test_plan_rotation_refuses_a_duplicate_kid() -> None:
    """The next key needs a kid the ring does not already use."""
    ring = ring_at(FixedClock(T0))
    again = JWK.generate("ES256", kid="k1")
    with pytest.raises(ConfigurationError, match="duplicate kid"):
        ring.plan_rotation(again, activate_at=T0 + HOUR, retire_previous_at=T0 + HOUR)


@pytest.mark.parametrize(
    ("entries", "error", "reason"),
    [
        ([], ConfigurationError, "at least one key"),
        (["k"], ConfigurationError, "must be RingKey"),
        ([RingKey(key="k", active_from=T0)], ConfigurationError, "must be a JWK"),  # type: ignore[arg-type]
        ([RingKey(key=K1.public(), active_from=T0)], InvalidKeyError, "private asymmetric"),
        (
            [RingKey(key=JWK.generate("HS256", kid="h"), active_from=T0)],
            InvalidKeyError,
            "private asymmetric",
        ),
        ([RingKey(key=_UNNAMED, active_from=T0)], InvalidKeyError, "kid"),
        (
            [RingKey(key=K1, active_from=T0), RingKey(key=K2, active_from=T0)],
            ConfigurationError,
            "same time",
        ),
        ([RingKey(key=K1, active_from=T0, retire_at=T0)], ConfigurationError, "retire_at"),
    ],
)
def test_ring_validation(entries: list[Any], error: type[Exception], reason: str) -> None:
    """Ring entries must be unique, private, asymmetric keys with consistent times."""
    with pytest.raises(error, match=reason):
        KeyRing(entries)


def test_ring_refuses_keys_without_alg_and_bad_clocks() -> None:
    """Keys need an alg; the clock must be a Clock."""
    unbound = JWK.from_dict({k: v for k, v in K1.to_dict(private=True).items() if k != "alg"})
    with pytest.raises(InvalidKeyError, match="alg"):
        KeyRing.create(unbound)
    with pytest.raises(ConfigurationError, match="clock"):
        KeyRing.create(K1, clock="now")  # type: ignore[arg-type]


def test_headers_may_not_override_kid_or_alg() -> None:
    """Extra headers are allowed; kid and alg belong to the ring."""
    ring = ring_at(FixedClock(T0))
    token = ring.sign_jwt({}, headers={"typ": "at+jwt"})
    assert jwt.decode_unverified(token).header["typ"] == "at+jwt"
    with pytest.raises(ConfigurationError, match="kid and alg"):
        ring.sign_jwt({}, headers={"kid": "other"})


def test_to_dict_round_trip() -> None:
    """A schedule survives to_dict/from_dict (second precision)."""
    clock = FixedClock(T0)
    ring = ring_at(clock).plan_rotation(K2, activate_at=T0 + HOUR, retire_previous_at=T0 + 2 * HOUR)
    loaded = KeyRing.from_dict(ring.to_dict(), clock=clock)
    assert loaded.entries == ring.entries
    assert repr(loaded) == "KeyRing(['k1', 'k2'])"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"keys": "x"},
        {"keys": [1]},
        {"keys": [{"jwk": K1.to_dict(private=True)}]},
        {"keys": [{"jwk": K1.to_dict(private=True), "active_from": True}]},
        {"keys": [{"jwk": K1.to_dict(private=True), "active_from": 10**20}]},
        {"keys": [{"jwk": K1.to_dict(private=True), "active_from": float("nan")}]},
        {"keys": [{"jwk": K1.to_dict(private=True), "active_from": "1700000000"}]},
    ],
)
def test_from_dict_refuses_bad_documents(document: Any) -> None:
    """Malformed schedules are configuration errors."""
    with pytest.raises(ConfigurationError):
        KeyRing.from_dict(document)


def test_two_rotations_in_one_second_round_trip() -> None:
    """Sub-second activation times survive to_dict/from_dict (were truncated, then refused)."""
    clock = FixedClock(T0 + dt.timedelta(microseconds=250_000))
    half = T0 + dt.timedelta(microseconds=500_001)
    ring = ring_at(clock).rotate(K2, retire_previous_at=T0 + HOUR, now=half)
    document = ring.to_dict()
    assert document["keys"][0]["active_from"] == int(T0.timestamp()) + 0.25
    assert document["keys"][1]["active_from"] == half.timestamp()
    assert KeyRing.from_dict(document, clock=clock).entries == ring.entries
    whole = ring_at(FixedClock(T0)).to_dict()
    assert whole["keys"][0]["active_from"] == int(T0.timestamp())  # whole seconds stay ints
    assert isinstance(whole["keys"][0]["active_from"], int)


def test_seal_and_unseal() -> None:
    """A sealed ring unseals under its name with its KEK; anything else is DecryptionFailed."""
    clock = FixedClock(T0)
    ring = ring_at(clock).rotate(K2, retire_previous_at=T0 + HOUR, now=T0 + SECOND)
    kek = JWK.generate("A256KW", kid="kek")
    sealed = ring.seal(kek, name="signing")
    header = json.loads(base64.urlsafe_b64decode(sealed.split(".")[0] + "=="))
    assert header == {"alg": "A256KW", "cty": SEALED_CONTENT_TYPE, "enc": "A256GCM", "kid": "kek"}
    assert KeyRing.unseal(sealed, kek, name="signing", clock=clock).entries == ring.entries
    dir_kek = JWK.from_secret(b"k" * 32, alg="A256GCM", kid="dir")
    other_kek = JWK.generate("A256GCMKW", kid="gcm")
    for key in (dir_kek, other_kek):
        again = ring.seal(key, name="signing")
        assert KeyRing.unseal(again, [kek, key], name="signing").entries == ring.entries
    not_a_ring = jwe.encrypt(b'{"keys": []}', kek, enc="A256GCM")
    tampered = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    for token, keks, name in [
        (sealed, kek, "other"),  # copied under another name
        (tampered, kek, "signing"),
        (sealed, JWK.generate("A256KW", kid="kek"), "signing"),  # same kid, other key
        (sealed, other_kek, "signing"),  # no key for this kid
        (not_a_ring, kek, "signing"),  # no cty: not a sealed ring
        ("not a jwe", kek, "signing"),
        (jwe.encrypt(b"[1]", kek, enc="A256GCM", headers={"cty": SEALED_CONTENT_TYPE}), kek, "x"),
        (
            jwe.encrypt(
                b'{"name": "x", "keys": 1}',
                kek,
                enc="A256GCM",
                headers={"cty": SEALED_CONTENT_TYPE},
            ),
            kek,
            "x",
        ),
    ]:
        with pytest.raises(DecryptionFailed):
            KeyRing.unseal(token, keks, name=name)
    for bad_kek in (JWK.generate("A128KW"), JWK.generate("HS256"), K1, "secret"):
        with pytest.raises(ConfigurationError):
            ring.seal(bad_kek, name="signing")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            KeyRing.unseal(sealed, bad_kek, name="signing")  # type: ignore[arg-type]
    not_keys: object
    for not_keys in ([], 42, "secret", None):
        with pytest.raises(ConfigurationError):
            KeyRing.unseal(sealed, not_keys, name="signing")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ring.seal(kek, name="")


def test_ring_is_immutable() -> None:
    """Attributes cannot be assigned."""
    ring = ring_at(FixedClock(T0))
    with pytest.raises(AttributeError):
        ring._entries = ()


def test_ring_constructor_checks_the_clock() -> None:
    """KeyRing(entries, clock=...) needs a Clock."""
    with pytest.raises(ConfigurationError, match="clock"):
        KeyRing([RingKey(key=K1, active_from=T0)], clock=42)  # type: ignore[arg-type]
