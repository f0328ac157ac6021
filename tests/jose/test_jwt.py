"""JWT encode/decode and JWTVerifier: claim checks, typing, caching, resolvers, threads."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any, Final

import pytest

from authcore.clock import FixedClock
from authcore.errors import (
    ConfigurationError,
    EncodeError,
    ExpiredToken,
    ImmatureToken,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    KeyNotFound,
    MalformedToken,
    MissingClaim,
)
from authcore.jose import JWK, JWTVerifier, KeySet, jws, jwt

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW: Final = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
T: Final = int(NOW.timestamp())
KEY: Final = JWK.generate("HS256", kid="k")


def token(claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(claims, KEY, headers=headers or None)


def verify(tok: str, **options: Any) -> dict[str, Any]:
    options.setdefault("algorithms", ["HS256"])
    return JWTVerifier(KEY, **options).verify(tok, now=NOW)


def test_round_trip_and_decode() -> None:
    """Encode then verify/decode returns the claims; datetimes become NumericDates."""
    claims = {"sub": "a", "exp": NOW + dt.timedelta(minutes=5), "iat": NOW}
    tok = jwt.encode(claims, KEY)
    expected = {"sub": "a", "exp": T + 300, "iat": T}
    assert verify(tok) == expected
    assert jwt.decode(tok, KEY, algorithms=["HS256"], now=NOW) == expected
    header = jwt.decode_unverified(tok).header
    assert header == {"alg": "HS256", "kid": "k", "typ": "JWT"}


@pytest.mark.parametrize(
    ("claims", "options", "error", "claim"),
    [
        ({"exp": T}, {}, ExpiredToken, "exp"),
        ({"exp": T - 1}, {}, ExpiredToken, "exp"),
        ({"exp": T + 1, "nbf": T + 1}, {}, ImmatureToken, "nbf"),
        ({"exp": T + 1, "iat": T + 1}, {}, ImmatureToken, "iat"),
        ({"exp": T + 1, "iat": T - 100}, {"max_age": 99}, ExpiredToken, "iat"),
        ({"exp": T + 1}, {"max_age": 99}, MissingClaim, "iat"),
        ({}, {}, MissingClaim, "exp"),
        ({"exp": T + 1}, {"required": ("exp", "jti")}, MissingClaim, "jti"),
        ({"exp": T + 1}, {"issuer": "me"}, MissingClaim, "iss"),
        ({"exp": T + 1, "iss": "you"}, {"issuer": "me"}, InvalidIssuer, "iss"),
        ({"exp": T + 1, "iss": "Me"}, {"issuer": "me"}, InvalidIssuer, "iss"),
        ({"exp": T + 1, "iss": 1}, {}, InvalidClaim, "iss"),
        ({"exp": T + 1}, {"audience": "api"}, MissingClaim, "aud"),
        ({"exp": T + 1, "aud": "web"}, {"audience": "api"}, InvalidAudience, "aud"),
        ({"exp": T + 1, "aud": ["web"]}, {"audience": "api"}, InvalidAudience, "aud"),
        ({"exp": T + 1, "aud": []}, {"audience": "api"}, InvalidAudience, "aud"),
        ({"exp": T + 1, "aud": [1]}, {"audience": "api"}, InvalidAudience, "aud"),
        ({"exp": T + 1, "aud": None}, {}, InvalidClaim, "aud"),
        ({"exp": T + 1, "aud": "api"}, {}, InvalidAudience, "aud"),
        ({"exp": T + 1, "sub": "b"}, {"subject": "a"}, InvalidClaim, "sub"),
        ({"exp": T + 1}, {"subject": "a"}, MissingClaim, "sub"),
        ({"exp": T + 1, "sub": 5}, {}, InvalidClaim, "sub"),
        ({"exp": T + 1, "jti": 5}, {}, InvalidClaim, "jti"),
        ({"exp": True}, {}, InvalidClaim, "exp"),
        ({"exp": str(T + 10)}, {}, InvalidClaim, "exp"),
        ({"exp": None}, {}, InvalidClaim, "exp"),
        ({"exp": T + 1, "nbf": "0"}, {}, InvalidClaim, "nbf"),
        ({"exp": T + 1, "iat": False}, {}, InvalidClaim, "iat"),
        ({"exp": T + 1, "iss": None}, {}, InvalidClaim, "iss"),
    ],
)
def test_claim_checks(
    claims: dict[str, Any], options: dict[str, Any], error: type[InvalidClaim], claim: str
) -> None:
    """Each claim rule raises its own error class naming the claim."""
    forged = jws.sign(json.dumps(claims).encode(), KEY)  # jwt.encode refuses some of these
    with pytest.raises(error) as info:
        verify(forged, **options)
    assert type(info.value) is error
    assert info.value.claim == claim


@pytest.mark.parametrize(
    ("claims", "options"),
    [
        ({"exp": T + 1}, {}),
        ({"exp": T + 0.5}, {}),
        ({"exp": T - 5}, {"leeway": 5.5}),
        ({"exp": T - 5}, {"leeway": dt.timedelta(seconds=6)}),
        ({"exp": T + 1, "nbf": T + 5, "iat": T + 5}, {"leeway": 5}),
        ({"exp": T + 1, "iat": T - 99}, {"max_age": 99}),
        ({"exp": T + 1, "iss": "b"}, {"issuer": ["a", "b"]}),
        ({"exp": T + 1, "aud": ["x", "api"]}, {"audience": "api"}),
        ({"exp": T + 1, "aud": "api"}, {"audience": ["web", "api"]}),
        ({"exp": T + 1, "sub": "a"}, {"subject": "a"}),
        ({"nbf": T}, {"required": ()}),
    ],
)
def test_claims_accepted(claims: dict[str, Any], options: dict[str, Any]) -> None:
    """Valid claims, within leeway and expectations, verify."""
    assert verify(token(claims), **options) == claims


@pytest.mark.parametrize(
    ("header_typ", "expected", "ok"),
    [
        ("at+jwt", "at+jwt", True),
        ("application/at+jwt", "at+jwt", True),
        ("AT+JWT", "application/at+jwt", True),
        ("JWT", "at+jwt", False),
        ("application/x/at+jwt", "x/at+jwt", False),  # prefix kept: another "/" follows
        (None, "at+jwt", False),
    ],
)
def test_explicit_typing(header_typ: str | None, expected: str, ok: bool) -> None:
    """Typ is compared case-insensitively with the application/ prefix removed."""
    headers = {"typ": header_typ} if header_typ else {}
    tok = jws.sign(b'{"exp":%d}' % (T + 1), KEY, headers=headers)  # jwt.encode would add typ JWT
    if ok:
        assert verify(tok, typ=expected) == {"exp": T + 1}
    else:
        with pytest.raises(InvalidTokenType):
            verify(tok, typ=expected)


def test_payload_must_be_an_object_and_encoded() -> None:
    """JWT payloads must be JSON objects, and b64=false is not a JWT."""
    for payload in (b"[1]", b'"x"', b"3"):
        with pytest.raises(MalformedToken, match="object"):
            verify(jws.sign(payload, KEY))
    raw = jws.sign(b'{"exp":1}', KEY, headers={"b64": False}, detached=True)
    with pytest.raises(MalformedToken, match="b64"):
        verify(raw)
    with pytest.raises(MalformedToken, match="object"):
        jwt.decode_unverified(jws.sign(b"[1]", KEY))


@pytest.mark.parametrize(
    "options",
    [
        {"algorithms": "HS256"},
        {"algorithms": ["HS256"], "issuer": ""},
        {"algorithms": ["HS256"], "issuer": [1]},
        {"algorithms": ["HS256"], "audience": []},
        {"algorithms": ["HS256"], "subject": 3},
        {"algorithms": ["HS256"], "typ": ""},
        {"algorithms": ["HS256"], "leeway": -1},
        {"algorithms": ["HS256"], "leeway": float("nan")},
        {"algorithms": ["HS256"], "leeway": True},
        {"algorithms": ["HS256"], "required": "exp"},
        {"algorithms": ["HS256"], "required": [3]},
        {"algorithms": ["HS256"], "max_size": 0},
        {"algorithms": ["HS256"], "clock": object()},
    ],
)
def test_configuration_errors(options: dict[str, Any]) -> None:
    """Bad verifier options are ConfigurationErrors at construction."""
    with pytest.raises(ConfigurationError):
        JWTVerifier(KEY, **options)


def test_now_must_be_aware() -> None:
    """A naive now is a ConfigurationError."""
    verifier = JWTVerifier(KEY, algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="aware"):
        verifier.verify(token({"exp": T + 1}), now=NOW.replace(tzinfo=None))


def test_clock_injection() -> None:
    """A Clock supplies the time when now is not given."""
    clock = FixedClock(NOW)
    verifier = JWTVerifier(KEY, algorithms=["HS256"], clock=clock)
    tok = token({"exp": T + 10})
    assert verifier.verify(tok) == {"exp": T + 10}
    clock.advance(10)
    with pytest.raises(ExpiredToken):
        verifier.verify(tok)


def test_system_clock_default() -> None:
    """Without now or clock, the system clock is used (a 2030 expiry is still ahead)."""
    far = int(dt.datetime(2300, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    assert JWTVerifier(KEY, algorithms=["HS256"]).verify(token({"exp": far})) == {"exp": far}


def test_verifier_is_immutable() -> None:
    """JWTVerifier attributes cannot be changed after construction."""
    verifier = JWTVerifier(KEY, algorithms=["HS256"])
    with pytest.raises(AttributeError):
        verifier.algorithms = frozenset({"none"})
    assert "HS256" in repr(verifier)


def test_header_cache_is_not_poisoned() -> None:
    """A header is cached only after a good signature; bad signatures keep failing."""
    verifier = JWTVerifier(KEY, algorithms=["HS256"])
    good = token({"exp": T + 1})
    head, payload, sig = good.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    for _ in range(3):
        with pytest.raises(InvalidSignature):
            verifier.verify(forged, now=NOW)
    assert verifier.verify(good, now=NOW) == {"exp": T + 1}
    for _ in range(3):
        with pytest.raises(InvalidSignature):
            verifier.verify(forged, now=NOW)
        assert verifier.verify(good, now=NOW) == {"exp": T + 1}


def test_header_cache_is_bounded() -> None:
    """Many distinct valid headers never grow the cache beyond its bound."""
    verifier = JWTVerifier(KEY, algorithms=["HS256"])
    for i in range(200):
        verifier.verify(jwt.encode({"exp": T + 1}, KEY, headers={"n": i}), now=NOW)
    assert len(verifier._cache) <= 64


class _RotatingResolver:
    """A resolver whose keys change (like a JWKS cache)."""

    def __init__(self, keys: list[JWK]) -> None:
        self.keys = keys

    def get(self, kid: str) -> JWK | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def __iter__(self) -> Iterator[JWK]:
        return iter(self.keys)


def test_dynamic_resolver_is_consulted_every_time() -> None:
    """With a non-static resolver, a revoked key stops verifying even for a cached header."""
    signer = JWK.generate("ES256", kid="rot")
    resolver = _RotatingResolver([signer.public()])
    verifier = JWTVerifier(resolver, algorithms=["ES256"])
    tok = jwt.encode({"exp": T + 1}, signer)
    assert verifier.verify(tok, now=NOW) == {"exp": T + 1}
    resolver.keys = []
    with pytest.raises(KeyNotFound):
        verifier.verify(tok, now=NOW)


def test_keys_as_list_and_key_set() -> None:
    """A list of keys and a KeySet work like a single key."""
    other = JWK.generate("HS256", kid="other")
    tok = token({"exp": T + 1})
    for keys in ([other, KEY], KeySet([other, KEY])):
        assert JWTVerifier(keys, algorithms=["HS256"]).verify(tok, now=NOW) == {"exp": T + 1}


def test_two_threads_share_one_verifier() -> None:
    """One verifier used from two threads gives every thread the right answer."""
    signer = JWK.generate("EdDSA", kid="t")
    verifier = JWTVerifier(signer.public(), algorithms=["EdDSA"])
    tokens = [jwt.encode({"exp": T + 1, "n": i}, signer) for i in range(50)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i, tok in enumerate(tokens * 4):
                assert verifier.verify(tok, now=NOW)["n"] == i % 50
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_encode_refusals() -> None:
    """Claims must be a JSON-serializable mapping with numeric or datetime time claims."""
    for claims in (
        {"exp": "soon"},
        {"exp": True},
        {"exp": float("inf")},
        {"exp": dt.datetime(2030, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"x": object()},
        {"x": float("nan")},
        {1: "x"},
        ["exp"],
    ):
        with pytest.raises((EncodeError, ConfigurationError)):
            jwt.encode(claims, KEY)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="b64"):
        jwt.encode({"exp": 1}, KEY, headers={"b64": False})
    with pytest.raises(ConfigurationError):
        jwt.encode({"exp": 1}, "secret")  # type: ignore[arg-type]


def test_encode_with_headers_overrides_typ() -> None:
    """Headers replace the default typ and add members; the key's kid is kept."""
    tok = jwt.encode({"exp": T + 1}, KEY, headers={"typ": "at+jwt", "x": 1})
    assert jwt.decode_unverified(tok).header == {
        "alg": "HS256",
        "kid": "k",
        "typ": "at+jwt",
        "x": 1,
    }
    assert verify(tok, typ="application/at+jwt") == {"exp": T + 1}
