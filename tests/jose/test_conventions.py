"""One convention across the JOSE API: token text, now=, str/bytes tokens, kids, files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore._encoding import b64url_decode, b64url_encode
from authcore.errors import (
    ConfigurationError,
    DecryptionFailed,
    InvalidKeyError,
    MalformedToken,
    Revoked,
    VerificationError,
)
from authcore.jose import JWK, JWTVerifier, KeySet, denylist, jwe, jws, jwt
from authcore.jose._jwe_algs import FAILED
from authcore.jose.keyring import KeyRing
from authcore.stores.memory import MemoryOneTimeStore

if TYPE_CHECKING:
    from collections.abc import Callable

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
KEY = JWK.generate("ES256", kid="s")
ENC = JWK.generate("A128KW", kid="e")
CLAIMS = {"sub": "a", "exp": int(NOW.timestamp()) + 600}
TOKEN = jwt.encode(CLAIMS, KEY)
SEALED = jwe.encrypt(b"secret", ENC, enc="A128GCM")
JWE_OPTIONS: dict[str, Any] = {"algorithms": ["A128KW"], "encryptions": ["A128GCM"]}

COMPACT_ENTRY_POINTS: dict[str, tuple[Callable[[Any], object], str | bytes]] = {
    "jws.verify": (lambda t: jws.verify(t, KEY, algorithms=["ES256"]).payload, TOKEN),
    "jwt.decode": (lambda t: jwt.decode(t, KEY, algorithms=["ES256"], now=NOW), TOKEN),
    "JWTVerifier": (lambda t: JWTVerifier(KEY, algorithms=["ES256"]).verify(t, now=NOW), TOKEN),
    "jwt.decode_unverified": (lambda t: jwt.decode_unverified(t).claims, TOKEN),
    "jwe.decrypt": (lambda t: jwe.decrypt(t, ENC, **JWE_OPTIONS).plaintext, SEALED),
}


# ----------------------------------------------------------------------------- token text


@pytest.mark.parametrize("entry", sorted(COMPACT_ENTRY_POINTS))
@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: "Bearer " + t, "starts with 'Bearer '"),
        (lambda t: "bearer  " + t, "starts with 'Bearer '"),
        (lambda t: t + "\n", "ends with a newline"),
        (lambda t: t + "\r\n", "ends with a newline"),
        (lambda t: " " + t, "whitespace"),
        (lambda t: t + "\t", "whitespace"),
    ],
    ids=["Bearer", "bearer-2-spaces", "newline", "crlf", "leading-space", "trailing-tab"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_copied_token_mistakes_are_named(
    entry: str, mangle: Callable[[str], str], message: str, *, as_bytes: bool
) -> None:
    """A Bearer prefix or surrounding whitespace is reported as exactly that, str or bytes."""
    function, token = COMPACT_ENTRY_POINTS[entry]
    bad = mangle(str(token))
    with pytest.raises(MalformedToken, match=message):
        function(bad.encode() if as_bytes else bad)


@pytest.mark.parametrize("entry", sorted(COMPACT_ENTRY_POINTS))
def test_tokens_are_accepted_as_str_and_bytes_alike(entry: str) -> None:
    """Every compact entry point gives the same result for a str token and its bytes."""
    function, token = COMPACT_ENTRY_POINTS[entry]
    assert (
        function(token) == function(str(token).encode()) == function(bytearray(str(token), "ascii"))
    )


def test_json_serializations_take_str_bytes_and_mappings() -> None:
    """verify_json/decrypt_json accept the object, its JSON text and its JSON bytes."""
    signed = jws.sign_json(b"x", KEY)
    sealed = jwe.encrypt_json(b"x", ENC, enc="A128GCM")
    for form in (signed, json.dumps(signed), json.dumps(signed).encode()):
        assert jws.verify_json(form, KEY, algorithms=["ES256"]).payload == b"x"
    for form in (sealed, json.dumps(sealed), json.dumps(sealed).encode()):
        assert jwe.decrypt_json(form, ENC, **JWE_OPTIONS).plaintext == b"x"


# ----------------------------------------------------------------------------- time


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_naive_datetime_claims_name_the_claim(name: str) -> None:
    """A naive datetime as exp/nbf/iat in jwt.encode is refused naming that claim, not now."""
    with pytest.raises(ConfigurationError, match=f"^invalid configuration: {name} must be"):
        jwt.encode({name: dt.datetime(2030, 1, 1)}, KEY)  # noqa: DTZ001 - the mistake tested


@pytest.mark.parametrize(
    "now",
    [
        NOW,
        NOW.timestamp(),
        int(NOW.timestamp()),
        NOW.astimezone(dt.timezone(dt.timedelta(hours=5))),
    ],
)
def test_now_takes_aware_datetimes_and_unix_seconds_everywhere(now: object) -> None:
    """JWTVerifier, jwt.decode, KeyRing and the denylist take the same now= values."""
    verifier = JWTVerifier(KEY, algorithms=["ES256"])
    assert verifier.verify(TOKEN, now=now) == CLAIMS  # type: ignore[arg-type]
    assert jwt.decode(TOKEN, KEY, algorithms=["ES256"], now=now) == CLAIMS  # type: ignore[arg-type]
    ring = KeyRing.create(KEY, now=now)  # type: ignore[arg-type]
    assert ring.active(now=now) == KEY  # type: ignore[arg-type]
    store = MemoryOneTimeStore()
    claims = {**CLAIMS, "jti": "j"}
    denylist.revoke(store, claims, now=now)  # type: ignore[arg-type]
    with pytest.raises(Revoked):
        denylist.check_not_revoked(store, claims, now=now)  # type: ignore[arg-type]


@pytest.mark.parametrize("now", [dt.datetime(2026, 1, 1), True, "2026-01-01", float("nan")])  # noqa: DTZ001
def test_bad_now_is_refused_naming_now(now: object) -> None:
    """A naive datetime, a bool, text or NaN as now= is a ConfigurationError naming now."""
    for call in (
        lambda: JWTVerifier(KEY, algorithms=["ES256"]).verify(TOKEN, now=now),  # type: ignore[arg-type]
        lambda: KeyRing.create(KEY, now=now),  # type: ignore[arg-type]
        lambda: denylist.revoke(MemoryOneTimeStore(), {"jti": "j"}, now=now),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigurationError, match="now"):
            call()


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "HS256", "RSA-OAEP-256", "A256GCM"])
def test_generated_keys_are_named_by_their_thumbprint(alg: str) -> None:
    """JWK.generate gives the key its RFC 7638 thumbprint as kid unless one is given."""
    key = JWK.generate(alg)
    assert key.kid == key.thumbprint()
    assert JWK.generate(alg, kid="mine").kid == "mine"


def test_a_generated_key_starts_a_key_ring() -> None:
    """KeyRing.create accepts a key from JWK.generate without further naming."""
    key = JWK.generate("ES256")
    ring = KeyRing.create(key, now=NOW)
    token = ring.sign_jwt({"exp": NOW + dt.timedelta(minutes=5)}, now=NOW)
    assert jwt.decode_unverified(token).header["kid"] == key.kid


def _pem(key: JWK, password: bytes | None = None) -> bytes:
    if password is None:
        return key.to_pem()
    loaded = serialization.load_pem_private_key(key.to_pem(), password=None)
    return loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )


def _der(key: JWK) -> bytes:
    loaded = serialization.load_pem_private_key(key.to_pem(), password=None)
    return loaded.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_jwk_from_file_reads_pem_der_and_jwk_json(tmp_path: Path) -> None:
    """JWK.from_file loads PEM (also encrypted), DER and JWK JSON; str paths and Paths alike."""
    (tmp_path / "k.pem").write_bytes(_pem(KEY))
    (tmp_path / "enc.pem").write_bytes(_pem(KEY, b"pw"))
    (tmp_path / "k.json").write_text(json.dumps(KEY.to_dict(private=True)))
    (tmp_path / "k.der").write_bytes(_der(KEY))
    assert JWK.from_file(tmp_path / "k.pem", kid="s", alg="ES256") == KEY
    assert JWK.from_file(str(tmp_path / "enc.pem"), kid="s", alg="ES256", password=b"pw") == KEY
    assert JWK.from_file(tmp_path / "k.der", kid="s", alg="ES256") == KEY
    assert JWK.from_file(tmp_path / "k.json") == KEY
    assert JWK.from_file(tmp_path / "k.json", kid="s", alg="ES256") == KEY
    with pytest.raises(InvalidKeyError, match="kid differs"):
        JWK.from_file(tmp_path / "k.json", kid="other")


def test_keyset_from_file_reads_a_jwk_set(tmp_path: Path) -> None:
    """KeySet.from_file loads a JWK Set document."""
    keys = KeySet([KEY.public(), JWK.generate("EdDSA").public()])
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.to_dict()))
    assert KeySet.from_file(path) == keys
    assert KeySet.from_file(str(path)) == keys


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (None, ConfigurationError, "cannot read"),
        (b"{not json", InvalidKeyError, "not strict JSON"),
        (b"[1]", InvalidKeyError, "cannot load the key"),
        (
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            InvalidKeyError,
            "cannot load",
        ),
        (b"x" * (1024 * 1024 + 1), ConfigurationError, "larger than"),
    ],
)
def test_from_file_errors_are_typed(
    tmp_path: Path, content: bytes | None, error: type[Exception], message: str
) -> None:
    """A missing, oversized, non-JSON or non-key file raises a typed authcore error."""
    path = tmp_path / "key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=message):
        JWK.from_file(path)


@pytest.mark.parametrize("path", ["/etc/ssl/private/key.pem", "key.json", Path("key.pem")])
@pytest.mark.parametrize(
    ("loader", "names"),
    [
        (JWK.from_pem, "JWK.from_file"),
        (JWK.from_dict, "JWK.from_file"),
        (KeySet.from_dict, "KeySet.from_file"),
    ],
    ids=["from_pem", "from_dict", "KeySet.from_dict"],
)
def test_paths_given_as_contents_name_the_file_loader(
    path: object, loader: Callable[[Any], object], names: str
) -> None:
    """A str path or a Path where key contents are expected is refused naming from_file."""
    with pytest.raises(InvalidKeyError, match=names.replace(".", r"\.") + r"\(path\)"):
        loader(path)


def test_pem_loader_given_json_text_names_from_dict() -> None:
    """JWK.from_pem with JWK JSON text points to JWK.from_dict."""
    with pytest.raises(InvalidKeyError, match=r"JWK\.from_dict"):
        JWK.from_pem(json.dumps(KEY.to_dict()))


def test_secret_given_a_path_names_the_file_loader() -> None:
    """JWK.from_secret(Path(...)) names from_file; text secrets are told to be encoded."""
    with pytest.raises(InvalidKeyError, match=r"JWK\.from_file\(path\)"):
        JWK.from_secret(Path("secret.bin"), alg="HS256")  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError, match="encode"):
        JWK.from_secret("a text secret" * 4, alg="HS256")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- JWE failures


def _flip(token: str, index: int, position: int) -> str:
    parts = token.split(".")
    raw = bytearray(b64url_decode(parts[index]))
    raw[position % len(raw)] ^= 0x01
    parts[index] = b64url_encode(bytes(raw))
    return ".".join(parts)


@settings(max_examples=200)
@given(index=st.integers(min_value=1, max_value=4), position=st.integers(min_value=0))
def test_any_change_to_the_encrypted_parts_is_decryption_failed(index: int, position: int) -> None:
    """As README says: a changed wrapped key, IV, ciphertext or tag is one DecryptionFailed."""
    with pytest.raises(DecryptionFailed) as info:
        jwe.decrypt(_flip(SEALED, index, position), ENC, **JWE_OPTIONS)
    assert info.value.reason == FAILED


@settings(max_examples=200)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_change_to_the_header_is_a_verification_error(position: int, replacement: str) -> None:
    """A changed header fails as a VerificationError (parse errors, or DecryptionFailed)."""
    head, rest = SEALED.split(".", 1)
    index = position % len(head)
    changed = head[:index] + replacement + head[index + 1 :]
    if changed == head:
        return
    with pytest.raises(VerificationError):
        jwe.decrypt(changed + "." + rest, ENC, **JWE_OPTIONS)
