"""JWS compact and JSON serializations, detached and unencoded payloads, key selection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authcore.errors import (
    AlgorithmNotAllowed,
    ConfigurationError,
    EncodeError,
    InvalidSignature,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlgorithm,
)
from authcore.jose import JWK, SIGNATURE_ALGORITHMS, KeySet, jws


def _pair(alg: str, kid: str | None = None) -> tuple[JWK, JWK]:
    key = JWK.generate(alg, kid=kid)
    return key, (key if key.is_symmetric else key.public())


@pytest.mark.parametrize("alg", sorted(SIGNATURE_ALGORITHMS))
def test_compact_round_trip(alg: str) -> None:
    """Every algorithm signs and verifies; the result names the header and the key."""
    private, public = _pair(alg, kid="k1")
    token = jws.sign(b"payload \x00\xff", private, headers={"typ": "example"})
    result = jws.verify(token, public, algorithms=[alg])
    assert result.payload == b"payload \x00\xff"
    assert result.header == {"alg": alg, "kid": "k1", "typ": "example"}
    assert result.key == public
    head, payload, sig = token.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{sig}"
    with pytest.raises(InvalidSignature):
        jws.verify(tampered, public, algorithms=[alg])


def test_algorithm_not_allowed() -> None:
    """A token whose alg is not in the caller's list is refused before any key work."""
    private, public = _pair("ES256")
    token = jws.sign(b"x", private)
    with pytest.raises(AlgorithmNotAllowed, match="ES256"):
        jws.verify(token, public, algorithms=["ES384"])


@pytest.mark.parametrize(
    ("algorithms", "error"),
    [
        ("ES256", ConfigurationError),
        ([], ConfigurationError),
        (None, ConfigurationError),
        (["ES999"], UnsupportedAlgorithm),
        ([256], ConfigurationError),
    ],
)
def test_algorithms_argument_is_checked(algorithms: Any, error: type[Exception]) -> None:
    """Algorithms must be a non-empty list of known algorithm names."""
    private, public = _pair("ES256")
    with pytest.raises(error):
        jws.verify(jws.sign(b"x", private), public, algorithms=algorithms)


def test_keys_argument_is_checked() -> None:
    """Keys must be a JWK, a KeySet, a list of JWK or a resolver."""
    private, _ = _pair("HS256")
    token = jws.sign(b"x", private)
    for bad in ("secret", b"secret", {"kty": "oct"}, 3):
        with pytest.raises(ConfigurationError):
            jws.verify(token, bad, algorithms=["HS256"])  # type: ignore[arg-type]


def _unnamed(key: JWK) -> JWK:
    """The same key without a kid (JWK.generate names keys by their thumbprint)."""
    members = key.to_dict(private=True)
    del members["kid"]
    return JWK.from_dict(members)


def test_key_rotation_without_kid() -> None:
    """Without a kid, every usable key is tried: old and new keys both verify."""
    old, new = _unnamed(JWK.generate("EdDSA")), _unnamed(JWK.generate("EdDSA"))
    keys = KeySet([old.public(), new.public()])
    for signer in (old, new):
        assert jws.verify(jws.sign(b"x", signer), keys, algorithms=["EdDSA"]).key == signer.public()
    with pytest.raises(InvalidSignature):
        jws.verify(jws.sign(b"x", _unnamed(JWK.generate("EdDSA"))), keys, algorithms=["EdDSA"])


def test_kid_selects_exactly_and_falls_back_to_unnamed_keys() -> None:
    """A kid picks that key only; an unknown kid may use keys without a kid, never others."""
    named = JWK.generate("ES256", kid="named")
    unnamed = _unnamed(JWK.generate("ES256"))
    keys = KeySet([named.public(), unnamed.public()])
    token = jws.sign(b"x", unnamed, headers={"kid": "whatever"})
    assert jws.verify(token, keys, algorithms=["ES256"]).key == unnamed.public()
    only_named = KeySet([named.public()])
    with pytest.raises(KeyNotFound):
        jws.verify(token, only_named, algorithms=["ES256"])
    wrong = jws.sign(b"x", unnamed, headers={"kid": "named"})
    with pytest.raises(InvalidSignature):
        jws.verify(wrong, keys, algorithms=["ES256"])


def test_key_named_by_kid_must_fit_alg() -> None:
    """A kid that names a key of another type is a KeyNotFound, not a fallback."""
    rsa_key = JWK.generate("RS256", kid="k")
    ec_key = JWK.generate("ES256", kid="k")
    token = jws.sign(b"x", ec_key)
    with pytest.raises(KeyNotFound, match="cannot verify"):
        jws.verify(token, rsa_key.public(), algorithms=["ES256", "RS256"])


def test_detached_payload() -> None:
    """A detached JWS verifies only with the payload supplied, and only if its segment is empty."""
    private, public = _pair("HS256")
    token = jws.sign(b"content", private, detached=True)
    assert token.split(".")[1] == ""
    assert jws.verify(token, public, algorithms=["HS256"], detached_payload=b"content").payload == (
        b"content"
    )
    with pytest.raises(InvalidSignature):
        jws.verify(token, public, algorithms=["HS256"], detached_payload=b"other")
    attached = jws.sign(b"content", private)
    with pytest.raises(MalformedToken, match="detached"):
        jws.verify(attached, public, algorithms=["HS256"], detached_payload=b"content")


def test_unencoded_payload() -> None:
    """b64=false signs the raw payload, adds crit, and refuses '.' in an attached payload."""
    private, public = _pair("HS512")
    token = jws.sign(b"$.02", private, headers={"b64": False}, detached=True)
    result = jws.verify(token, public, algorithms=["HS512"], detached_payload=b"$.02")
    assert result.header["crit"] == ["b64"]
    attached = jws.sign(b"plain text", private, headers={"b64": False})
    assert attached.split(".")[1] == "plain text"
    assert jws.verify(attached, public, algorithms=["HS512"]).payload == b"plain text"
    with pytest.raises(EncodeError, match=r"'\.'"):
        jws.sign(b"a.b", private, headers={"b64": False})
    with pytest.raises(EncodeError, match="crit"):
        jws.sign(b"x", private, headers={"crit": ["exp"]})


def test_sign_refusals() -> None:
    """Sign needs a JWK that may sign, bytes, and a string alg."""
    private, public = _pair("ES256")
    with pytest.raises(ConfigurationError):
        jws.sign(b"x", private.to_dict(private=True))  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        jws.sign("text", private)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAlgorithm):
        jws.sign(b"x", public)
    with pytest.raises(EncodeError):
        jws.sign(b"x", private, headers={"alg": 5})


@pytest.fixture
def three_keys() -> list[JWK]:
    return [JWK.generate("RS256", kid="r"), JWK.generate("ES256", kid="e"), JWK.generate("EdDSA")]


def test_json_general_with_several_signatures(three_keys: list[JWK]) -> None:
    """A general JSON JWS with several signatures reports which key verified."""
    signed = jws.sign_json(b"doc", three_keys, unprotected={"note": "x"})
    assert len(signed["signatures"]) == 3
    for key in three_keys:
        result = jws.verify_json(signed, key.public(), algorithms=["RS256", "ES256", "EdDSA"])
        assert result.key == key.public()
        assert result.payload == b"doc"
        assert result.header["note"] == "x"
    with pytest.raises(AlgorithmNotAllowed):
        jws.verify_json(signed, three_keys[0].public(), algorithms=["PS256"])
    with pytest.raises(KeyNotFound):
        jws.verify_json(signed, JWK.generate("PS256").public(), algorithms=["RS256"])


def test_json_flattened_and_text_input() -> None:
    """Flattened JSON and its JSON text verify; detached JSON needs the payload."""
    private, public = _pair("ES384")
    flat = jws.sign_json(b"doc", private, flattened=True)
    assert set(flat) == {"payload", "protected", "signature"}
    import json  # noqa: PLC0415

    assert jws.verify_json(json.dumps(flat), public, algorithms=["ES384"]).payload == b"doc"
    detached = jws.sign_json(b"doc", private, detached=True)
    assert "payload" not in detached
    result = jws.verify_json(detached, public, algorithms=["ES384"], detached_payload=b"doc")
    assert result.payload == b"doc"
    with pytest.raises(MalformedToken, match="payload"):
        jws.verify_json(detached, public, algorithms=["ES384"])
    with pytest.raises(ConfigurationError):
        jws.sign_json(b"doc", [private, private], flattened=True)
    with pytest.raises(ConfigurationError):
        jws.sign_json(b"doc", [])


def test_json_structure_is_strict() -> None:
    """Empty signature lists, overlapping header names and mixed forms are malformed."""
    private, public = _pair("HS256")
    signed = jws.sign_json(b"doc", private)
    for bad, reason in (
        ({**signed, "signatures": []}, "empty"),
        ({**signed, "signatures": {}}, "array"),
        ({**signed, "signatures": ["x"]}, "object"),
        ({**signed, "signature": "AA"}, "mixes"),
        ({"payload": "ZG9j"}, "neither"),
        (
            {
                **signed,
                "signatures": [{**signed["signatures"][0], "header": {"alg": "HS256"}}],
            },
            "both protected and unprotected",
        ),
        ({**signed, "signatures": [{"signature": "AA"}]}, "no header"),
        ({**signed, "signatures": [{**signed["signatures"][0], "protected": 3}]}, "string"),
        ({**signed, "signatures": [{**signed["signatures"][0], "header": []}]}, "object"),
        ({**signed, "signatures": [{**signed["signatures"][0], "signature": 3}]}, "string"),
        ({**signed, "payload": 3}, "payload"),
        ([], "not an object"),
    ):
        with pytest.raises(MalformedToken, match=reason):
            jws.verify_json(bad, public, algorithms=["HS256"])  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="both protected and unprotected"):
        jws.sign_json(b"doc", private, unprotected={"alg": "HS256"})


def test_json_b64_values_must_agree() -> None:
    """All signatures of a JSON JWS must agree on b64."""
    a, b = JWK.generate("HS256"), JWK.generate("HS256")
    plain = jws.sign_json(b"doc", a)
    raw = jws.sign_json(b"doc", b, headers={"b64": False})
    mixed = {"payload": "doc", "signatures": plain["signatures"] + raw["signatures"]}
    with pytest.raises(MalformedToken, match="b64"):
        jws.verify_json(mixed, KeySet([a, b]), algorithms=["HS256"])
    assert jws.verify_json(raw, b, algorithms=["HS256"]).payload == b"doc"


def test_json_size_cap_applies_to_parsed_objects() -> None:
    """verify_json caps an already parsed object by its compact JSON size, like text input."""
    private, public = _pair("HS256")
    signed = jws.sign_json(b"x" * 300, private)
    size = len(json.dumps(signed, separators=(",", ":")))
    assert jws.verify_json(signed, public, algorithms=["HS256"], max_size=size).payload
    with pytest.raises(TokenTooLarge, match=f"JWS JSON longer than {size - 1}"):
        jws.verify_json(signed, public, algorithms=["HS256"], max_size=size - 1)
    padded = {**signed, "unknown": {"nested": ["y" * 100_000]}}
    with pytest.raises(TokenTooLarge):
        jws.verify_json(padded, public, algorithms=["HS256"])
    many = {"signatures": [signed["signatures"][0]] * 1000, "payload": signed["payload"]}
    with pytest.raises(TokenTooLarge):
        jws.verify_json(many, public, algorithms=["HS256"])


def test_json_parsed_object_must_hold_json_values() -> None:
    """A parsed object holding values JSON cannot represent is malformed, not a crash."""
    private, public = _pair("HS256")
    signed = jws.sign_json(b"doc", private)
    for bad in ({**signed, "extra": b"bytes"}, {**signed, "extra": float("nan")}):
        with pytest.raises(MalformedToken, match="not JSON"):
            jws.verify_json(bad, public, algorithms=["HS256"])
    nested: dict[str, Any] = {}
    for _ in range(5000):
        nested = {"n": nested}
    with pytest.raises(MalformedToken, match="not JSON"):
        jws.verify_json({**signed, "extra": nested}, public, algorithms=["HS256"])
