"""`authcore jwks fetch|discover|show` against a loopback HTTPS server and local files."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

import pytest

from authcore.cli import main
from authcore.cli._jwks import add_jwks_url_options, keys_from_jwks_url
from authcore.errors import FetchError, UsageError
from authcore.jose import JWK
from tests._loopback import Reply, Server, jwks_body

if TYPE_CHECKING:
    from pathlib import Path

EC = JWK.generate("ES256", kid="ec-1")
RSA = JWK.generate("RS256", kid="rsa-1").public()


def test_fetch_lists_kids_and_thumbprints(
    server: Server, cafile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fetch prints one line per key with its RFC 7638 thumbprint."""
    server.set("/jwks", Reply(body=jwks_body(EC, RSA)))
    assert main(["jwks", "fetch", server.url("/jwks"), "--cafile", cafile]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"ec-1  EC  ES256  P-256  {EC.thumbprint()}",
        f"rsa-1  RSA  RS256  3072 bits  {RSA.thumbprint()}",
    ]


def test_fetch_json_output(server: Server, cafile: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints a machine-readable list."""
    server.set("/jwks", Reply(body=jwks_body(EC)))
    assert main(["jwks", "fetch", server.url("/jwks"), "--cafile", cafile, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "kid": "ec-1",
            "kty": "EC",
            "alg": "ES256",
            "use": None,
            "size": "P-256",
            "thumbprint": EC.thumbprint(),
        }
    ]


def test_fetch_failures_exit_2_with_the_reason(
    server: Server, cafile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """HTTP errors, refused sets and untrusted certificates are one line on stderr, exit 2."""
    server.set("/down", Reply(status=503))
    server.set("/private", Reply(body=json.dumps({"keys": [EC.to_dict(private=True)]}).encode()))
    server.set("/ok", Reply(body=jwks_body(EC)))
    cases = [
        (["jwks", "fetch", server.url("/down"), "--cafile", cafile], "HTTP status 503"),
        (["jwks", "fetch", server.url("/private"), "--cafile", cafile], "private key material"),
        (["jwks", "fetch", server.url("/ok")], "TLS certificate verification failed"),
        (["jwks", "fetch", "http://example.com/jwks"], "must use https"),
        (["jwks", "fetch", server.url("/ok"), "--cafile", "/nonexistent"], "cannot load"),
    ]
    for argv, reason in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert reason in err
        assert err.count("\n") == 1


def test_discover_prints_metadata_and_keys(
    server: Server, cafile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Discover checks the issuer, then lists the keys of its jwks_uri."""
    metadata = {"issuer": server.base, "jwks_uri": server.url("/keys")}
    server.set("/.well-known/openid-configuration", Reply(body=json.dumps(metadata).encode()))
    server.set("/keys", Reply(body=jwks_body(EC)))
    assert main(["jwks", "discover", server.base, "--cafile", cafile]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"issuer: {server.base}"
    assert out[2] == f"jwks_uri: {server.url('/keys')}"
    assert out[3].startswith("ec-1  EC  ES256")
    assert main(["jwks", "discover", server.base, "--cafile", cafile, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["keys"][0]["thumbprint"] == EC.thumbprint()


def test_discover_refuses_a_different_issuer(
    server: Server, cafile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A metadata document naming another issuer fails with exit 2."""
    metadata = {"issuer": "https://evil.example", "jwks_uri": server.url("/keys")}
    server.set("/.well-known/oauth-authorization-server", Reply(body=json.dumps(metadata).encode()))
    assert main(["jwks", "discover", server.base, "--cafile", cafile]) == 2
    assert "is not the expected" in capsys.readouterr().err


def test_show_validates_a_local_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Show lists a local JWKS and refuses a set with duplicate kids."""
    good = tmp_path / "good.json"
    good.write_bytes(jwks_body(EC))
    assert main(["jwks", "show", str(good)]) == 0
    assert EC.thumbprint() in capsys.readouterr().out
    assert main(["jwks", "show", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["kid"] == "ec-1"
    bad = tmp_path / "bad.json"
    bad.write_bytes(json.dumps({"keys": [EC.public().to_dict()] * 2}).encode())
    assert main(["jwks", "show", str(bad)]) == 2
    assert "duplicate kid" in capsys.readouterr().err


def test_jwks_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`authcore jwks` alone is a usage error with help."""
    assert main(["jwks"]) == 2
    assert "fetch" in capsys.readouterr().err


def test_jwks_url_options_fetch_a_key_set(server: Server, cafile: str) -> None:
    """The --jwks-url helpers (for `authcore jwt verify`) fetch and validate a key set."""
    parser = argparse.ArgumentParser()
    add_jwks_url_options(parser)
    server.set("/jwks", Reply(body=jwks_body(EC)))
    args = parser.parse_args(["--jwks-url", server.url("/jwks"), "--jwks-cafile", cafile])
    assert [key.kid for key in keys_from_jwks_url(args)] == ["ec-1"]
    server.set("/jwks", Reply(status=500))
    with pytest.raises(FetchError, match="HTTP status 500"):
        keys_from_jwks_url(args)
    bad = parser.parse_args(["--jwks-url", server.url("/jwks"), "--jwks-cafile", "/nope"])
    with pytest.raises(UsageError, match="--jwks-cafile"):
        keys_from_jwks_url(bad)


def test_show_names_skipped_keys_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A weak key in a set is named on stderr; the usable keys are still listed."""
    path = tmp_path / "jwks.json"
    weak = {"kty": "RSA", "kid": "legacy", "n": "AQAB", "e": "AQAB"}
    path.write_text(json.dumps({"keys": [weak, EC.public().to_dict()]}))
    assert main(["jwks", "show", str(path)]) == 0
    captured = capsys.readouterr()
    assert EC.thumbprint() in captured.out
    assert "skipped kid 'legacy': RSA modulus" in captured.err
