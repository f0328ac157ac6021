"""The ``authcore jwe`` command."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli import main
from tests.jose.jwe_keys import curve_key, oct_key

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from authcore.jose import JWK


def _write_jwk(path: Path, key: JWK, *, private: bool = True) -> str:
    path.write_text(json.dumps(key.to_dict(private=private)), encoding="utf-8")
    return str(path)


def test_cli_encrypt_then_decrypt_compact(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A file encrypted to a public JWK decrypts with the private one."""
    key = curve_key("P-256", "ECDH-ES+A128KW")
    public = _write_jwk(tmp_path / "pub.json", key.public(), private=False)
    private = _write_jwk(tmp_path / "priv.json", key)
    (tmp_path / "msg.txt").write_bytes(b"hello jwe\n")
    token_path = tmp_path / "token"
    argv = ["jwe", "encrypt", str(tmp_path / "msg.txt"), "--key-file", public, "--enc", "A256GCM"]
    assert main([*argv, "--out", str(token_path), "--compress"]) == 0
    assert token_path.read_text().count(".") == 4
    code = main(
        [
            "jwe", "decrypt", str(token_path), "--key-file", private,
            "--alg", "ECDH-ES+A128KW", "--enc", "A256GCM", "--decompress",
            "--header-out", str(tmp_path / "header.json"),
        ]
    )  # fmt: skip
    assert code == 0
    assert capsysbinary.readouterr().out == b"hello jwe\n"
    assert json.loads((tmp_path / "header.json").read_text())["zip"] == "DEF"


def test_cli_json_serialization_and_jwks(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """--json output decrypts with a JWK Set holding the key."""
    key = oct_key(32, "A256KW", kid="k1")
    single = _write_jwk(tmp_path / "k.json", key)
    jwks = tmp_path / "set.json"
    jwks.write_text(json.dumps({"keys": [key.to_dict(private=True)]}), encoding="utf-8")
    (tmp_path / "m").write_bytes(b"data")
    out = tmp_path / "t.json"
    argv = ["jwe", "encrypt", str(tmp_path / "m"), "--key-file", single, "--enc", "A128GCM"]
    assert main([*argv, "--json", "--out", str(out)]) == 0
    assert "recipients" in json.loads(out.read_text())
    capsysbinary.readouterr()
    argv = ["jwe", "decrypt", str(out), "--key-file", str(jwks), "--alg", "A256KW"]
    assert main([*argv, "--enc", "A128GCM"]) == 0
    assert capsysbinary.readouterr().out == b"data"


def test_cli_decrypt_refusal_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A token for another key, or an alg not listed, exits 1 with the reason."""
    key = oct_key(16, "A128KW")
    other = _write_jwk(tmp_path / "other.json", oct_key(16, "A128KW"))
    mine = _write_jwk(tmp_path / "mine.json", key)
    (tmp_path / "m").write_bytes(b"x")
    token = tmp_path / "t"
    argv = ["jwe", "encrypt", str(tmp_path / "m"), "--key-file", mine, "--enc", "A128GCM"]
    assert main([*argv, "--out", str(token)]) == 0
    base = ["jwe", "decrypt", str(token), "--enc", "A128GCM"]
    assert main([*base, "--key-file", other, "--alg", "A128KW"]) == 1
    assert "decryption_failed" in capsys.readouterr().err
    assert main([*base, "--key-file", mine, "--alg", "A256KW"]) == 1
    assert "algorithm_not_allowed" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Missing files, bad key files and a JWK Set for encryption are usage errors."""
    (tmp_path / "m").write_bytes(b"x")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    jwks = tmp_path / "set.json"
    jwks.write_text(json.dumps({"keys": []}), encoding="utf-8")
    array = tmp_path / "array.json"
    array.write_text("[{}]", encoding="utf-8")
    message = str(tmp_path / "m")
    for key_file in (str(tmp_path / "missing"), str(bad), str(jwks), str(array)):
        assert main(["jwe", "encrypt", message, "--key-file", key_file, "--enc", "A128GCM"]) == 2
        assert capsys.readouterr().err.startswith("authcore: error:")
    assert main(["jwe", "decrypt", message, "--enc", "A128GCM"]) == 2


def test_cli_pem_key_with_key_alg(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A PEM key is bound with --key-alg and used for both directions."""
    key = curve_key("X25519")
    (tmp_path / "priv.pem").write_bytes(key.to_pem())
    (tmp_path / "pub.pem").write_bytes(key.public().to_pem())
    (tmp_path / "m").write_bytes(b"pem")
    token = tmp_path / "t"
    argv = ["jwe", "encrypt", str(tmp_path / "m"), "--key-file", str(tmp_path / "pub.pem")]
    assert main([*argv, "--key-alg", "ECDH-ES", "--enc", "A128GCM", "--out", str(token)]) == 0
    argv = ["jwe", "decrypt", str(token), "--key-file", str(tmp_path / "priv.pem")]
    assert main([*argv, "--alg", "ECDH-ES", "--enc", "A128GCM"]) == 0
    assert capsysbinary.readouterr().out == b"pem"


def test_cli_generates_jwe_keys(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`jwk generate` makes ECDH-ES keys on --crv and dir keys by enc; both encrypt and decrypt."""
    (tmp_path / "msg.txt").write_bytes(b"hello jwe\n")
    for alg, crv, enc in (("ECDH-ES+A256KW", "X25519", "A256GCM"), ("A128GCM", None, "A128GCM")):
        key_path = tmp_path / f"{alg}.json"
        argv = ["jwk", "generate", "--alg", alg, "--out", str(key_path)]
        assert main(argv if crv is None else [*argv, "--crv", crv]) == 0
        members = json.loads(key_path.read_text())
        assert members["alg"] == alg
        assert members.get("crv") == crv
        token_path = tmp_path / f"{alg}.token"
        encrypt = ["jwe", "encrypt", str(tmp_path / "msg.txt"), "--key-file", str(key_path)]
        assert main([*encrypt, "--enc", enc, "--out", str(token_path)]) == 0
        decrypt = ["jwe", "decrypt", str(token_path), "--key-file", str(key_path)]
        accepted = alg if crv is not None else "dir"
        assert main([*decrypt, "--alg", accepted, "--enc", enc]) == 0
        assert capsysbinary.readouterr().out == b"hello jwe\n"
    assert main(["jwk", "generate", "--alg", "ECDH-ES", "--crv", "P-192"]) == 2
    assert b"--crv" in capsysbinary.readouterr().err
