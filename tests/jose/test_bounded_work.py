"""Bounded work for JSON serializations and key fan-out (issue 12 item 2), counted, not timed.

Every class of hostile input is tried in several variants; each test counts the cryptographic
calls a refused input caused (zero: the caps are checked before any cryptography).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import DecodeError, MalformedToken, TokenTooLarge
from authcore.jose import JWK, JWTVerifier, KeySet, jwe, jws, jwt
from authcore.jose import _core as core
from authcore.jose import jwe as jwe_module

if TYPE_CHECKING:
    from collections.abc import Callable

SIGNING_ALGS = ["HS256", "ES256", "EdDSA", "ES384"]
RECIPIENT_ALGS = ["RSA-OAEP-256", "ECDH-ES+A256KW", "A128KW", "PBES2-HS256+A128KW"]


class Counter:
    """Counts the calls (and the keys handed) to a wrapped function."""

    def __init__(self, function: Callable[..., Any], *, keys_at: int | None = None) -> None:
        self.function = function
        self.calls = 0
        self.keys = 0
        self.keys_at = keys_at

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.keys_at is not None:
            self.keys += len(args[self.keys_at])
        return self.function(*args, **kwargs)


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts verify_with calls and the candidate keys they try, in jws and jwt."""
    spy = Counter(core.verify_with, keys_at=0)
    monkeypatch.setattr(jws, "verify_with", spy)
    monkeypatch.setattr(jwt, "verify_with", spy)
    return spy


@pytest.fixture
def unwraps(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts key unwraps in jwe (every key management algorithm goes through unwrap_cek)."""
    spy = Counter(jwe_module.unwrap_cek)  # type: ignore[attr-defined]
    monkeypatch.setattr(jwe_module, "unwrap_cek", spy)
    return spy


def _signing_key(alg: str, kid: str | None = None) -> JWK:
    if alg == "HS256":
        return JWK.from_secret(bytes(range(32)) + (kid or "").encode(), alg=alg, kid=kid)
    generated = JWK.generate(alg)
    members = {k: v for k, v in generated.to_dict(private=True).items() if k != "kid"}
    if kid is not None:
        members["kid"] = kid
    return JWK.from_dict(members)


def _unnamed_keys(alg: str, count: int) -> list[JWK]:
    if alg == "HS256":
        return [JWK.from_secret(bytes([i]) * 32, alg=alg) for i in range(count)]
    return [_signing_key(alg) for _ in range(count)]


def _public(keys: list[JWK]) -> KeySet:
    return KeySet([key if key.is_symmetric else key.public() for key in keys])


# ----------------------------------------------------------------------------- JWS signatures


@pytest.mark.parametrize("alg", SIGNING_ALGS)
@pytest.mark.parametrize("count", [9, 64, 2_000])
def test_too_many_signatures_are_refused_before_any_verification(
    alg: str, count: int, signature_checks: Counter
) -> None:
    """More than max_signatures signatures: TokenTooLarge, and not one signature is checked."""
    key = _signing_key(alg, kid="k")
    signed = jws.sign_json(b"x", key)
    flooded = {"payload": signed["payload"], "signatures": signed["signatures"] * count}
    with pytest.raises(TokenTooLarge, match="more than 8 signatures"):
        jws.verify_json(flooded, _public([key]), algorithms=[alg], max_size=10**8)
    assert signature_checks.calls == 0


@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_the_signature_cap_is_configurable(alg: str, signature_checks: Counter) -> None:
    """max_signatures raises the cap; a genuine signature among the copies then verifies."""
    key = _signing_key(alg, kid="k")
    signed = jws.sign_json(b"x", key)
    many = {"payload": signed["payload"], "signatures": signed["signatures"] * 9}
    result = jws.verify_json(many, _public([key]), algorithms=[alg], max_signatures=9)
    assert result.payload == b"x"
    assert signature_checks.calls == 1


# ----------------------------------------------------------------------------- key fan-out


@pytest.mark.parametrize("alg", SIGNING_ALGS)
@pytest.mark.parametrize(("signatures", "keys"), [(4, 5), (2, 9), (1, 17), (8, 3)])
def test_signatures_times_keys_over_the_budget_are_refused(
    alg: str, signatures: int, keys: int, signature_checks: Counter
) -> None:
    """Kid-less signatures x kid-less keys over 16 trials: refused before any verification."""
    key_list = _unnamed_keys(alg, keys)
    signed = jws.sign_json(b"x", key_list[0])
    forged = {"payload": signed["payload"], "signatures": signed["signatures"] * signatures}
    with pytest.raises(TokenTooLarge, match="more than 16"):
        jws.verify_json(forged, _public(key_list), algorithms=[alg])
    assert signature_checks.calls == 0


@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_work_within_the_budget_is_bounded_by_it(alg: str, signature_checks: Counter) -> None:
    """3 bad signatures x 5 keys: at most 15 key trials, then the usual failure."""
    key_list = _unnamed_keys(alg, 5)
    stranger = _unnamed_keys(alg, 1)[0] if alg != "HS256" else JWK.from_secret(b"z" * 32, alg=alg)
    signed = jws.sign_json(b"x", stranger)
    forged = {"payload": signed["payload"], "signatures": signed["signatures"] * 3}
    with pytest.raises(Exception, match="signature"):
        jws.verify_json(forged, _public(key_list), algorithms=[alg])
    assert signature_checks.keys <= 15


@pytest.mark.parametrize("alg", SIGNING_ALGS)
@pytest.mark.parametrize(
    "verify",
    [
        lambda token, keys, alg: jws.verify(token, keys, algorithms=[alg]),
        lambda token, keys, alg: jwt.decode(token, keys, algorithms=[alg], required=()),
        lambda token, keys, alg: JWTVerifier(keys, algorithms=[alg], required=()).verify(token),
    ],
    ids=["jws.verify", "jwt.decode", "JWTVerifier"],
)
def test_a_kidless_token_against_a_large_key_set_is_refused(
    alg: str, verify: Callable[[str, KeySet, str], object], signature_checks: Counter
) -> None:
    """A compact token without kid facing 17 usable keys is refused before any verification."""
    key_list = _unnamed_keys(alg, 17)
    token = jwt.encode({"sub": "a"}, key_list[-1])
    with pytest.raises(TokenTooLarge, match="give tokens a kid"):
        verify(token, _public(key_list), alg)
    assert signature_checks.calls == 0
    allowed = JWTVerifier(_public(key_list), algorithms=[alg], required=(), max_key_trials=17)
    assert allowed.verify(token) == {"sub": "a"}


# ----------------------------------------------------------------------------- JWE recipients


def _recipient_key(alg: str, kid: str | None = "r") -> JWK:
    if alg.startswith("PBES2"):
        return JWK.from_secret(b"correct horse battery staple", alg=alg, kid=kid)
    generated = JWK.generate(alg)
    members = {k: v for k, v in generated.to_dict(private=True).items() if k != "kid"}
    if kid is not None:
        members["kid"] = kid
    return JWK.from_dict(members)


def _options(alg: str) -> dict[str, Any]:
    return {"algorithms": [alg], "encryptions": ["A256GCM"], "p2c_max": 1000}


def _sealed(key: JWK, **header: Any) -> dict[str, Any]:
    target = key if key.is_symmetric else key.public()
    return jwe.encrypt_json(b"x", target, enc="A256GCM", protected=header or None)


@pytest.mark.parametrize("alg", RECIPIENT_ALGS)
@pytest.mark.parametrize("count", [9, 200, 2_000])
def test_too_many_recipients_are_refused_before_any_unwrap(
    alg: str, count: int, unwraps: Counter
) -> None:
    """More than max_recipients recipients: TokenTooLarge, and not one key is unwrapped."""
    key = _recipient_key(alg)
    sealed = _sealed(key, p2c=1000) if alg.startswith("PBES2") else _sealed(key)
    recipient = {"header": {"alg": alg, "kid": "r"}, "encrypted_key": "AAAA"}
    flooded = {k: v for k, v in sealed.items() if k not in ("header", "encrypted_key")}
    flooded["recipients"] = [copy.deepcopy(recipient) for _ in range(count)]
    with pytest.raises(TokenTooLarge, match="more than 8 recipients"):
        jwe.decrypt_json(flooded, key, **_options(alg), max_size=10**8)
    assert unwraps.calls == 0


def test_the_recipient_cap_is_configurable(unwraps: Counter) -> None:
    """max_recipients raises the cap; the real recipient after 8 decoys then decrypts."""
    real = JWK.generate("A128KW", kid="real")
    decoy = JWK.generate("A128KW", kid="decoy")
    sealed = jwe.encrypt_json(b"x", [decoy] * 8 + [real], enc="A256GCM")
    with pytest.raises(TokenTooLarge):
        jwe.decrypt_json(sealed, real, algorithms=["A128KW"], encryptions=["A256GCM"])
    assert unwraps.calls == 0
    opened = jwe.decrypt_json(
        sealed, real, algorithms=["A128KW"], encryptions=["A256GCM"], max_recipients=9
    )
    assert opened.plaintext == b"x"
    assert unwraps.calls == 1


def test_text_with_more_containers_than_entries_need_is_refused_unparsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Text holding more objects and arrays than max_recipients entries can is never parsed.

    The allowance grows with max_recipients, and the largest legitimate entries (ECDH-ES
    recipients whose headers carry an epk, eight of them) pass.
    """
    keys = [JWK.generate("ECDH-ES+A256KW", kid=f"k{i}") for i in range(8)]
    sealed = jwe.encrypt_json(b"x", [k.public() for k in keys], enc="A256GCM")
    text = json.dumps(sealed)
    options: dict[str, Any] = {"algorithms": ["ECDH-ES+A256KW"], "encryptions": ["A256GCM"]}
    assert jwe.decrypt_json(text, keys[-1], **options).plaintext == b"x"
    flood = '{"recipients":[' + ",".join(["{}"] * 200) + "]}"
    parsed: list[object] = []
    monkeypatch.setattr(core, "json_loads", lambda *a, **_k: parsed.append(a))
    with pytest.raises(TokenTooLarge, match="more than 144 objects and arrays"):
        jwe.decrypt_json(flood, keys[0], **options)
    with pytest.raises(TokenTooLarge, match="objects and arrays"):
        jws.verify_json(flood.replace("recipients", "signatures"), keys[0], algorithms=["ES256"])
    assert parsed == []
    monkeypatch.undo()
    with pytest.raises(MalformedToken):  # allowed by max_recipients=20: parsed, then refused
        jwe.decrypt_json(flood, keys[0], **options, max_recipients=20)


def test_json_serializations_nest_at_most_eight_deep() -> None:
    """A JWS JSON nested nine deep is refused by the pre-scan; eight deep is parsed."""
    key = JWK.from_secret(bytes(32), alg="HS256")
    eight = '{"payload":"eA","signatures":[{"header":{"a":{"b":{"c":[[]]}}}}]}'
    nine = eight.replace("[[]]", "[[[]]]")
    with pytest.raises(MalformedToken):
        jws.verify_json(eight, key, algorithms=["HS256"])
    with pytest.raises(DecodeError, match="nested deeper than 8"):
        jws.verify_json(nine, key, algorithms=["HS256"])


@pytest.mark.parametrize("alg", ["RSA-OAEP-256", "ECDH-ES+A256KW", "A128KW"])
@pytest.mark.parametrize(("recipients", "keys"), [(3, 6), (1, 17), (8, 3)])
def test_recipients_times_keys_over_the_budget_are_refused(
    alg: str, recipients: int, keys: int, unwraps: Counter
) -> None:
    """Kid-less recipients x kid-less keys over 16 unwraps: refused before any unwrap."""
    key_list = [_recipient_key(alg, kid=None) for _ in range(keys)]
    sealed = _sealed(key_list[0])
    (entry,) = sealed["recipients"]
    sealed["recipients"] = [copy.deepcopy(entry) for _ in range(recipients)]
    with pytest.raises(TokenTooLarge, match="more than 16"):
        jwe.decrypt_json(sealed, key_list, **_options(alg))
    assert unwraps.calls == 0


@pytest.mark.parametrize("alg", ["RSA-OAEP-256", "ECDH-ES+A256KW", "A128KW"])
def test_a_kidless_compact_jwe_against_a_large_key_set_is_refused(
    alg: str, unwraps: Counter
) -> None:
    """A compact JWE without kid facing 17 usable keys is refused before any unwrap."""
    key_list = [_recipient_key(alg, kid=None) for _ in range(17)]
    target = key_list[-1] if key_list[-1].is_symmetric else key_list[-1].public()
    token = jwe.encrypt(b"x", target, enc="A256GCM")
    with pytest.raises(TokenTooLarge, match="give tokens a kid"):
        jwe.decrypt(token, key_list, **_options(alg))
    assert unwraps.calls == 0
    assert jwe.decrypt(token, key_list, **_options(alg), max_key_trials=17).plaintext == b"x"


# ----------------------------------------------------------------------------- JSON text


@pytest.mark.parametrize(
    ("unit", "error"),
    [
        ('\\"[', TokenTooLarge),
        ('\\"{', TokenTooLarge),
        ('\\\\"[', TokenTooLarge),
        ('"\\"[', TokenTooLarge),
        ('\\"', DecodeError),
        ('\\\\"', DecodeError),
    ],
)
@pytest.mark.parametrize("size", [4_000, 16_000])
def test_unterminated_strings_with_escaped_quotes_are_refused_typed(
    unit: str, error: type[Exception], size: int
) -> None:
    """A body of escaped quotes (and brackets) in an unterminated string is refused, typed.

    Such bodies made the depth pre-scan restart at every quote (quadratic: 36 KB took seconds).
    With brackets, the container count refuses them before parsing (TokenTooLarge); without,
    the decoder does (DecodeError), from every JSON serialization entry point.
    """
    body = '{"payload":' + "[" * 9 + '"' + unit * (size // len(unit))
    with pytest.raises(error):
        jws.verify_json(body, JWK.from_secret(bytes(32), alg="HS256"), algorithms=["HS256"])
    with pytest.raises(error):
        jwe.decrypt_json(
            body * 8, JWK.generate("A128KW"), algorithms=["A128KW"], encryptions=["A256GCM"]
        )


def test_rsa_modulus_size_is_capped() -> None:
    """An RSA modulus over MAX_RSA_BITS is refused before OpenSSL sees it.

    Checking a private key grows steeply with its size (an 8192-bit one took 3.7 s here);
    a JWK of that size is refused at once, public or private (the one RSA check).
    """
    from authcore._encoding import b64url_encode  # noqa: PLC0415
    from authcore.errors import InvalidKeyError  # noqa: PLC0415
    from authcore.jose import JWK  # noqa: PLC0415
    from authcore.jose._jwk import MAX_RSA_BITS  # noqa: PLC0415

    def members(bits: int) -> dict[str, str]:
        n = (1 << (bits - 1)) | 0x10001  # odd, exactly ``bits`` long; never factored here
        return {"kty": "RSA", "n": b64url_encode(n.to_bytes(bits // 8, "big")), "e": "AQAB"}

    with pytest.raises(InvalidKeyError, match=f"at most {MAX_RSA_BITS} accepted"):
        JWK.from_dict(members(MAX_RSA_BITS + 8))
    with pytest.raises(InvalidKeyError, match=f"at most {MAX_RSA_BITS} accepted"):
        JWK.from_dict({**members(MAX_RSA_BITS + 8), "d": "AQAB"})
    assert JWK.from_dict(members(4096)).kty.value == "RSA"
