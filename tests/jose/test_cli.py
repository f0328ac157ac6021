"""The ``authcore jwk``, ``jws`` and ``jwt`` commands."""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING, Any

import pytest

from authcore.cli import main
from authcore.jose import JWK, jws, jwt

if TYPE_CHECKING:
    from pathlib import Path


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes = b""
) -> tuple[int, str, str]:
    """Run the CLI with ``stdin`` and return (exit code, stdout, stderr)."""
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(argv)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def es_key(tmp_path: Path) -> tuple[JWK, Path, Path]:
    key = JWK.generate("ES256", kid="cli")
    private = tmp_path / "private.json"
    private.write_text(json.dumps(key.to_dict(private=True)))
    public = tmp_path / "public.pem"
    public.write_bytes(key.public().to_pem())
    return key, private, public


def test_jwk_generate_public_thumbprint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Generating prints a private JWK with a thumbprint kid; public and thumbprint agree."""
    code, out, _ = run(["jwk", "generate", "--alg", "EdDSA"], capsys)
    assert code == 0
    members = json.loads(out)
    assert "d" in members
    key_file = tmp_path / "k.json"
    key_file.write_text(out)
    code, out, _ = run(["jwk", "public", "--key-file", str(key_file)], capsys)
    assert code == 0
    assert "d" not in json.loads(out)
    code, out, _ = run(["jwk", "thumbprint", "--key-file", str(key_file)], capsys)
    assert out.strip() == members["kid"] == JWK.from_dict(members).thumbprint()
    code, out, _ = run(["jwk", "public", "--key-file", str(key_file), "--pem"], capsys)
    assert out.startswith("-----BEGIN PUBLIC KEY-----")


def test_jwk_generate_pem_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--pem writes PKCS#8; bad algorithms and symmetric PEM are usage errors (exit 2)."""
    out_file = tmp_path / "k.pem"
    assert (
        run(["jwk", "generate", "--alg", "ES384", "--pem", "--out", str(out_file)], capsys)[0] == 0
    )
    assert JWK.from_pem(out_file.read_bytes()).crv == "P-384"
    code, _, err = run(["jwk", "generate", "--alg", "none"], capsys)
    assert code == 2
    assert "none" in err
    assert run(["jwk", "generate", "--alg", "HS256", "--pem"], capsys)[0] == 2
    code, _, err = run(["jwk", "thumbprint"], capsys)
    assert code == 2
    assert "--key-file" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"kty": "EC"}')
    code, _, err = run(["jwk", "thumbprint", "--key-file", str(bad)], capsys)
    assert code == 2
    assert "cannot load the key" in err


def test_jws_sign_verify(
    es_key: tuple[JWK, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Signing then verifying round-trips; a tampered token exits 1 with the reason."""
    key, private, public = es_key
    code, token, _ = run(["jws", "sign", "--key-file", str(private)], capsys, stdin=b"hello")
    assert code == 0
    assert jws.verify(token.strip(), key.public(), algorithms=["ES256"]).payload == b"hello"
    token_file = tmp_path / "t"
    token_file.write_text(token)
    argv = ["jws", "verify", "--key-file", str(public), "--alg", "ES256"]
    code, out, _ = run([*argv, "--token-file", str(token_file)], capsys)
    assert (code, out) == (0, "hello")
    code, out, _ = run(argv, capsys, stdin=token.encode())
    assert (code, out) == (0, "hello")
    head, payload, sig = token.strip().split(".")
    code, _, err = run(argv, capsys, stdin=f"{head}.{payload}x.{sig}".encode())
    assert code == 1
    assert "decode_error" in err or "invalid_signature" in err
    code, _, err = run(
        ["jws", "verify", "--key-file", str(public), "--alg", "RS256"], capsys, stdin=token.encode()
    )
    assert code == 1
    assert "algorithm_not_allowed" in err


def test_jws_detached_unencoded_with_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HMAC secrets from a file sign detached, unencoded payloads that verify."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32 + b"\n")
    payload = tmp_path / "payload"
    payload.write_bytes(b"$.02")
    code, token, _ = run(
        [
            "jws", "sign", "--secret-file", str(secret), "--alg", "HS256",
            "--in", str(payload), "--detached", "--unencoded",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    code, out, _ = run(
        [
            "jws", "verify", "--secret-file", str(secret), "--alg", "HS256",
            "--detached-payload", str(payload), "--header",
        ],
        capsys,
        stdin=token.encode(),
    )  # fmt: skip
    assert code == 0
    header, body = out.split("\n", 1)
    assert json.loads(header)["b64"] is False
    assert body == "$.02"
    code, _, err = run(["jws", "sign", "--secret-file", str(secret)], capsys, stdin=b"x")
    assert code == 2
    assert "HS256" in err


def test_jwt_encode_verify_decode(
    es_key: tuple[JWK, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The jwt actions: claims checked on verify, decode says UNVERIFIED."""
    _, private, public = es_key
    code, token, _ = run(
        [
            "jwt", "encode", "--key-file", str(private), "--claims",
            '{"iss": "me", "aud": "api", "sub": "u"}', "--expires-in", "60", "--typ", "at+jwt",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    base = ["jwt", "verify", "--key-file", str(public), "--alg", "ES256"]
    code, out, _ = run(
        [*base, "--iss", "me", "--aud", "api", "--typ", "at+jwt"], capsys, stdin=token.encode()
    )
    assert code == 0
    claims: dict[str, Any] = json.loads(out)
    assert claims["sub"] == "u"
    assert claims["exp"] - claims["iat"] == 60
    code, _, err = run([*base, "--iss", "you", "--aud", "api"], capsys, stdin=token.encode())
    assert code == 1
    assert "invalid_issuer" in err
    code, out, _ = run(["jwt", "decode"], capsys, stdin=token.encode())
    assert code == 0
    decoded = json.loads(out)
    assert decoded["UNVERIFIED"] is True
    assert decoded["header"]["typ"] == "at+jwt"
    code, _, err = run([*base, "--leeway", "-1"], capsys, stdin=token.encode())
    assert code == 2


def test_jwt_verify_with_jwks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JWK Set file selects the key by kid."""
    keys = [JWK.generate("EdDSA", kid=f"k{i}") for i in range(3)]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [k.public().to_dict() for k in keys]}))
    token = jwt.encode({"exp": 4_000_000_000}, keys[1])
    code, out, _ = run(
        ["jwt", "verify", "--key-file", str(jwks), "--alg", "EdDSA"], capsys, stdin=token.encode()
    )
    assert code == 0
    assert json.loads(out) == {"exp": 4_000_000_000}
    code, _, err = run(["jwt", "encode", "--key-file", str(jwks), "--claims", "{}"], capsys)
    assert code == 2
    assert "exactly one key" in err


def test_jwt_encode_errors(
    es_key: tuple[JWK, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad claims and public signing keys are usage errors."""
    _, private, public = es_key
    for claims in ("[1]", "{", '{"exp": "soon"}'):
        code, _, _ = run(["jwt", "encode", "--key-file", str(private), "--claims", claims], capsys)
        assert code == 2
    code, _, err = run(["jwt", "encode", "--key-file", str(public), "--claims", "{}"], capsys)
    assert code == 2
    assert "private" in err


def test_jws_sign_extra_header(
    es_key: tuple[JWK, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--header adds protected members; a non-object --header is a usage error."""
    key, private, _ = es_key
    argv = ["jws", "sign", "--key-file", str(private), "--header", '{"typ": "x+jws"}']
    code, token, _ = run(argv, capsys, stdin=b"p")
    assert code == 0
    assert jws.verify(token.strip(), key.public(), algorithms=["ES256"]).header["typ"] == "x+jws"
    for bad in ("[1]", "{"):
        argv = ["jws", "sign", "--key-file", str(private), "--header", bad]
        assert run(argv, capsys, stdin=b"p")[0] == 2
    code, _, err = run(["jws", "sign", "--key-file", str(private), "--alg", "ES384"], capsys)
    assert code == 2
    assert "ES384" in err


def test_jwt_encode_default_expiry_makes_a_token_jwt_verify_accepts(
    es_key: tuple[JWK, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --expires-in, claims with no exp get 15 minutes; --no-expiry opts out."""
    _, private, public = es_key
    encode = ["jwt", "encode", "--key-file", str(private), "--claims", '{"sub": "u"}']
    code, token, _ = run(encode, capsys)
    assert code == 0
    claims = jwt.decode_unverified(token.strip()).claims
    assert claims["exp"] - claims["iat"] == 900
    verify = ["jwt", "verify", "--key-file", str(public), "--alg", "ES256"]
    code, _, _ = run(verify, capsys, stdin=token.strip().encode())
    assert code == 0
    code, token, _ = run([*encode, "--no-expiry"], capsys)
    assert code == 0
    assert "exp" not in jwt.decode_unverified(token.strip()).claims
    # An exp in the claims is kept as given.
    code, token, _ = run(
        ["jwt", "encode", "--key-file", str(private), "--claims", '{"exp": 4000000000}'], capsys
    )
    assert jwt.decode_unverified(token.strip()).claims == {"exp": 4000000000}
    code, _, err = run([*encode, "--no-expiry", "--expires-in", "5"], capsys)
    assert code == 2
    assert "not allowed with" in err
