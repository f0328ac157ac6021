"""`authcore jwt verify --jwks-url URL`: keys fetched from a loopback HTTPS JWKS."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli import main
from authcore.clock import utc_now
from authcore.jose import JWK, jwt
from tests._loopback import Reply, Server, jwks_body

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


KEY = JWK.generate("ES256", kid="cli-1")
OTHER = JWK.generate("ES256", kid="cli-2")


def _token_file(tmp_path: Path, key: JWK) -> str:
    token = jwt.encode({"sub": "cli", "exp": utc_now().timestamp() + 600}, key)
    path = tmp_path / "token.txt"
    path.write_text(token + "\n")
    return str(path)


def test_verify_with_keys_from_a_jwks_url(
    server: Server, cafile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token verifies with the key the JWKS publishes under its kid."""
    server.set("/jwks", Reply(body=jwks_body(KEY, OTHER)))
    argv = ["jwt", "verify", "--jwks-url", server.url("/jwks"), "--jwks-cafile", cafile]
    assert main([*argv, "--alg", "ES256", "--token-file", _token_file(tmp_path, KEY)]) == 0
    assert json.loads(capsys.readouterr().out)["sub"] == "cli"


def test_unknown_kid_exits_1(
    server: Server, cafile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token signed by a key the JWKS does not publish is refused with exit 1."""
    server.set("/jwks", Reply(body=jwks_body(OTHER)))
    argv = ["jwt", "verify", "--jwks-url", server.url("/jwks"), "--jwks-cafile", cafile]
    assert main([*argv, "--alg", "ES256", "--token-file", _token_file(tmp_path, KEY)]) == 1
    assert "key_not_found" in capsys.readouterr().err


def test_fetch_failures_and_conflicting_options_exit_2(
    server: Server, cafile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing fetch, an http URL or --jwks-url with a key option exit 2 with one line."""
    token = _token_file(tmp_path, KEY)
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(KEY.public().to_dict()))
    server.set("/jwks", Reply(status=500))
    base = ["jwt", "verify", "--alg", "ES256", "--token-file", token]
    cases = [
        ([*base, "--jwks-url", server.url("/jwks"), "--jwks-cafile", cafile], "HTTP status 500"),
        ([*base, "--jwks-url", "http://example.com/jwks"], "must use https"),
        (
            [*base, "--jwks-url", server.url("/jwks"), "--key-file", str(key_file)],
            "not both",
        ),
    ]
    for argv, reason in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert reason in err
        assert err.count("\n") == 1
