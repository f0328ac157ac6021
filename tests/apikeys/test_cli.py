"""`authcore apikey new|check|hash`."""

from __future__ import annotations

import base64
import io
import json
from typing import TYPE_CHECKING

import pytest

from authcore import apikeys
from authcore.cli import main
from authcore.errors import ConfigurationError, InvalidKeyError

if TYPE_CHECKING:
    from pathlib import Path

PEPPER = b"cli-pepper-" + b"x" * 32


@pytest.fixture
def pepper_file(tmp_path: Path) -> str:
    """A pepper file in the documented format, with a trailing newline."""
    path = tmp_path / "pepper"
    path.write_text(apikeys.encode_pepper(PEPPER) + "\n")
    return str(path)


def _stdin(monkeypatch: pytest.MonkeyPatch, data: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data.encode())))


def test_new_prints_token_id_and_hash(pepper_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`new` prints a valid token, its key id and the hash a KeyHasher would store."""
    assert (
        main(["apikey", "new", "--prefix", "sk_live", "--pepper-file", pepper_file, "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    parsed = apikeys.parse(out["token"], prefix="sk_live")
    assert out["key_id"] == parsed.key_id
    hasher = apikeys.KeyHasher({"p1": PEPPER})
    assert hasher.verify(parsed.secret, out["hash"]).pepper_id == "p1"


def test_new_without_pepper(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a pepper, `new` prints the token and says no hash was printed."""
    assert main(["apikey", "new", "--prefix", "pk_test"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("token: pk_test_")
    assert "hash" not in captured.out
    assert "no pepper" in captured.err


def test_new_with_pepper_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pepper may come from an environment variable, with its own id."""
    monkeypatch.setenv("MY_PEPPER", apikeys.encode_pepper(PEPPER))
    argv = ["apikey", "new", "--prefix", "sk", "--pepper-env", "MY_PEPPER", "--pepper-id", "k2"]
    assert main(argv) == 0
    assert "hash: v1$k2$" in capsys.readouterr().out


def test_check_accepts_good_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` accepts a valid token from stdin or the environment and prints its key id."""
    key = apikeys.generate("sk_live")
    monkeypatch.setenv("MY_TOKEN", key.token)
    assert main(["apikey", "check", "--token-env", "MY_TOKEN", "--prefix", "sk_live"]) == 0
    assert f"key_id: {key.key_id}" in capsys.readouterr().out
    _stdin(monkeypatch, key.token + "\n")
    assert main(["apikey", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"


def test_check_refuses_bad_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo exits 1 with the reason on one line and without echoing the token."""
    key = apikeys.generate("sk_live")
    typo = key.token[:-1] + ("a" if key.token[-1] != "a" else "b")
    _stdin(monkeypatch, typo + "\n")
    assert main(["apikey", "check"]) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err
    assert key.secret not in err
    assert err.count("\n") == 1
    _stdin(monkeypatch, key.token)
    assert main(["apikey", "check", "--prefix", "sk_test"]) == 1
    assert "unexpected prefix" in capsys.readouterr().err


def test_check_refuses_non_ascii_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Non-ASCII input is a malformed key (exit 1), not a traceback."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe")))
    assert main(["apikey", "check"]) == 1
    assert "malformed_key" in capsys.readouterr().err


def test_check_refuses_a_token_in_argv(capsys: pytest.CaptureFixture[str]) -> None:
    """A token in argv is refused (exit 2, one line, not echoed), valid or not."""
    key = apikeys.generate("sk_live")
    for argv in (["apikey", "check", key.token], ["apikey", "check", "abc", "--json"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "leaks into shell history" in err
        assert "--token-file" in err
        assert key.secret not in err
        assert err.count("\n") == 1


def test_hash_matches_the_library(
    pepper_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hash` prints the same storage hash as KeyHasher for the token's secret."""
    key = apikeys.generate("sk_live")
    token_file = tmp_path / "token"
    token_file.write_text(key.token + "\n")
    argv = ["apikey", "hash", "--pepper-file", pepper_file, "--token-file", str(token_file)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"hash: {apikeys.KeyHasher({'p1': PEPPER}).hash(key.secret)}" in out
    assert key.secret not in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["apikey"], 2, "required"),
        (["apikey", "new"], 2, "--prefix"),
        (["apikey", "new", "--prefix", "SK"], 2, "prefix must be"),
        (["apikey", "hash"], 2, "--pepper-file"),
        (["apikey", "hash", "--pepper-env", "AUTHCORE_TEST_UNSET_VAR"], 2, "not set"),
    ],
)
def test_usage_mistakes(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage mistakes exit 2 with one line on stderr."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_short_pepper_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pepper shorter than 32 bytes exits 2."""
    path = tmp_path / "short"
    path.write_text("hex:" + "ab" * 31)
    assert main(["apikey", "new", "--prefix", "sk", "--pepper-file", str(path)]) == 2
    assert "shorter than 32 bytes" in capsys.readouterr().err


_FORMS = {
    "hex": ("hex:" + PEPPER.hex()).encode(),
    "HEX": ("hex:" + PEPPER.hex().upper()).encode(),
    "hex, newline": ("hex:" + PEPPER.hex() + "\n").encode(),
    "base64": apikeys.encode_pepper(PEPPER).encode(),
    "base64, CRLF": (apikeys.encode_pepper(PEPPER) + "\r\n").encode(),
    "base64, spaces": ("  " + apikeys.encode_pepper(PEPPER) + " \n\n").encode(),
}


@pytest.mark.parametrize("form", sorted(_FORMS))
def test_cli_and_library_hash_identically(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One pepper text gives the same hash through --pepper-file, --pepper-env and the library."""
    text = _FORMS[form]
    key = apikeys.generate("sk_live")
    token_file = tmp_path / "token"
    token_file.write_text(key.token)
    pepper_path = tmp_path / "pepper"
    pepper_path.write_bytes(text)
    monkeypatch.setenv("AUTHCORE_TEST_PEPPER", text.decode())
    outputs = []
    for source in (["--pepper-file", str(pepper_path)], ["--pepper-env", "AUTHCORE_TEST_PEPPER"]):
        argv = ["apikey", "hash", *source, "--token-file", str(token_file), "--json"]
        assert main(argv) == 0
        outputs.append(json.loads(capsys.readouterr().out)["hash"])
    library = {
        apikeys.KeyHasher({"p1": apikeys.decode_pepper(text)}).hash(key.secret),
        apikeys.KeyHasher({"p1": apikeys.decode_pepper(text.decode())}).hash(key.secret),
        apikeys.KeyHasher.from_env({"p1": "AUTHCORE_TEST_PEPPER"}).hash(key.secret),
        apikeys.KeyHasher({"p1": PEPPER}).hash(key.secret),
    }
    assert set(outputs) == library
    assert len(library) == 1


@pytest.mark.parametrize(
    "content",
    [
        PEPPER,  # untagged text
        b"\xff\xfe" + b"\x00" * 40,  # raw binary
        b"\x01" * 31 + b"\n",  # binary ending in a newline: never silently stripped
        ("hex:" + PEPPER.hex()[:-1]).encode(),  # odd length
        ("hex:" + PEPPER.hex()[:10] + " " + PEPPER.hex()[10:]).encode(),  # inner space
        ("base64:" + apikeys.encode_pepper(PEPPER)[7:].rstrip("=")).encode(),  # no padding
        b"base64:" + base64.urlsafe_b64encode(b"\xfb\xff" * 20),  # URL-safe alphabet
        b"base64:" + base64.b64encode(PEPPER)[:-3] + b"B==",  # stray bits: not canonical
        apikeys.encode_pepper(PEPPER).upper().encode(),  # tag must be lower case
        b"",
    ],
)
def test_cli_and_library_refuse_the_same_pepper_texts(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anything outside the pepper format is refused by the library and by the CLI (exit 2)."""
    with pytest.raises(InvalidKeyError):
        apikeys.decode_pepper(content)
    path = tmp_path / "pepper"
    path.write_bytes(content)
    assert main(["apikey", "new", "--prefix", "sk", "--pepper-file", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_encode_pepper_round_trips_and_refuses_short_or_non_bytes() -> None:
    """encode_pepper's text decodes to the same bytes; short or non-bytes peppers are refused."""
    assert apikeys.decode_pepper(apikeys.encode_pepper(PEPPER)) == PEPPER
    with pytest.raises(InvalidKeyError):
        apikeys.encode_pepper(b"x" * 31)
    with pytest.raises(InvalidKeyError):
        apikeys.encode_pepper("x" * 40)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        apikeys.decode_pepper(5)  # type: ignore[arg-type]


def test_from_env_errors_name_the_variable() -> None:
    """A missing variable names itself; a bad mapping is a configuration error."""
    with pytest.raises(ConfigurationError, match="AUTHCORE_TEST_UNSET"):
        apikeys.KeyHasher.from_env({"p1": "AUTHCORE_TEST_UNSET"}, environ={})
    with pytest.raises(ConfigurationError):
        apikeys.KeyHasher.from_env(["p1"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        apikeys.KeyHasher.from_env({"p1": 5})  # type: ignore[dict-item]
    env = {"OLD": apikeys.encode_pepper(b"o" * 32), "NEW": "hex:" + (b"n" * 32).hex()}
    rotated = apikeys.KeyHasher.from_env({"p1": "OLD", "p2": "NEW"}, environ=env)
    assert rotated.current == "p2"
    assert rotated.hash("s") == apikeys.KeyHasher({"p2": b"n" * 32}).hash("s")
