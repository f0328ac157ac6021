"""The ``authcore oauth pkce`` and ``authcore dpop proof`` commands."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from authcore.cli import main
from authcore.errors import InvalidDPoPProof
from authcore.jose import JWK
from authcore.oauth import pkce
from authcore.oauth.dpop import verify_proof
from authcore.stores.memory import MemoryOneTimeStore

if TYPE_CHECKING:
    from pathlib import Path

URL = "https://api.example/resource"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_pkce_pair_is_fresh_and_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["oauth", "pkce", "--json"], capsys)
    assert code == 0
    pair = json.loads(out)
    assert pair["code_challenge_method"] == "S256"
    assert pair["code_challenge"] == pkce.s256_challenge(pair["code_verifier"])
    pkce.verify(pair["code_verifier"], pair["code_challenge"], "S256")
    _, again, _ = run(["oauth", "pkce", "--json"], capsys)
    assert json.loads(again)["code_verifier"] != pair["code_verifier"]


def test_pkce_plain_output_is_name_value_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["oauth", "pkce"], capsys)
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["code_challenge"] == pkce.s256_challenge(lines["code_verifier"])


@pytest.fixture(params=["ES256", "EdDSA"])
def key_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[JWK, Path]:
    key = JWK.generate(request.param)
    path = tmp_path / "dpop.json"
    path.write_text(json.dumps(key.to_dict(private=True)))
    return key, path


def test_dpop_proof_verifies_with_ath_and_nonce(
    key_file: tuple[JWK, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, path = key_file
    token = tmp_path / "token.txt"
    token.write_text("an-access-token\n")
    argv = ["dpop", "proof", "--key-file", str(path), "--method", "get", "--url", URL + "?q=1"]
    code, out, _ = run(
        [*argv, "--access-token-file", str(token), "--nonce", "n-1", "--json"], capsys
    )
    assert code == 0
    printed = json.loads(out)
    assert printed["jkt"] == key.thumbprint()
    proof = verify_proof(
        printed["dpop"],
        replay=MemoryOneTimeStore(),
        method="GET",
        url=URL,
        access_token="an-access-token",
        jkt=key.thumbprint(),
    )
    assert proof.claims["nonce"] == "n-1"
    # Bound to the method and to the token: another method or token is refused.
    with pytest.raises(InvalidDPoPProof):
        verify_proof(
            printed["dpop"],
            replay=MemoryOneTimeStore(),
            method="POST",
            url=URL,
            access_token="an-access-token",
        )
    with pytest.raises(InvalidDPoPProof):
        verify_proof(
            printed["dpop"],
            replay=MemoryOneTimeStore(),
            method="GET",
            url=URL,
            access_token="another-token",
        )


def test_dpop_proof_key_from_environment(
    key_file: tuple[JWK, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, path = key_file
    monkeypatch.setenv("DPOP_KEY", path.read_text())
    code, out, _ = run(
        ["dpop", "proof", "--key-env", "DPOP_KEY", "--method", "POST", "--url", URL], capsys
    )
    assert code == 0
    proof = verify_proof(out.strip(), replay=MemoryOneTimeStore(), method="POST", url=URL)
    assert proof.jkt == key.thumbprint()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("none", "give the private key"),
        ("rsa", "a DPoP key is EC P-256"),
        ("public", "private key"),
        ("garbage", "cannot load the key"),
        ("bad-url", "url"),
    ],
)
def test_dpop_proof_refuses_bad_input_in_one_line(
    setup: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "key"
    url = URL
    if setup == "rsa":
        path.write_text(json.dumps(JWK.generate("RS256").to_dict(private=True)))
    elif setup == "public":
        path.write_text(json.dumps(JWK.generate("ES256").public().to_dict()))
    elif setup == "garbage":
        path.write_bytes(b"not a key")
    else:
        path.write_text(json.dumps(JWK.generate("ES256").to_dict(private=True)))
        url = "not-a-url"
    argv = ["dpop", "proof", "--method", "GET", "--url", url]
    if setup != "none":
        argv += ["--key-file", str(path)]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
