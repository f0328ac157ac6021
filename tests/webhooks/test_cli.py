"""`authcore webhook sign|verify` and the webhooks benchmark suite."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from authcore._bench import run_group
from authcore._bench.webhooks import groups
from authcore.cli import main

if TYPE_CHECKING:
    from pathlib import Path

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
PAYLOAD = b'{"test": 2432232314}'
HEADERS = (
    "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\n"
    "webhook-timestamp: 1614265330\n"
    "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "payload").write_bytes(PAYLOAD)
    (tmp_path / "headers").write_text(HEADERS)
    return {name: str(tmp_path / name) for name in ("secret", "payload", "headers")}


def test_sign_prints_the_official_headers(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Signing the official vector prints its three headers."""
    argv = ["webhook", "sign", "--secret-file", files["secret"], "--payload-file"]
    argv += [files["payload"], "--msg-id", MSG_ID, "--timestamp", "1614265330"]
    assert main(argv) == 0
    assert capsys.readouterr().out == HEADERS
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["webhook-timestamp"] == "1614265330"


def test_verify_accepts_and_refuses(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Verify exits 0 with a summary for a valid delivery, 1 with the reason otherwise."""
    argv = ["webhook", "verify", "--secret-file", files["secret"], "--payload-file"]
    argv += [files["payload"], "--headers-file", files["headers"]]
    assert main([*argv, "--now", "1614265330"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "scheme": "standard",
        "msg_id": MSG_ID,
        "timestamp": 1614265330,
        "version": "v1",
        "key_index": 0,
    }
    assert main(argv) == 1
    assert "stale_timestamp" in capsys.readouterr().err
    bad = ["--header", "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="]
    assert main([*argv, *bad, "--now", "1614265330"]) == 1
    assert "repeated" in capsys.readouterr().err


def test_secret_from_environment_and_rotation(
    files: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--secret-env reads one secret per line; any may verify."""
    monkeypatch.setenv("HOOK_SECRETS", "whsec_" + "A" * 32 + "\n" + SECRET)
    argv = ["webhook", "verify", "--secret-env", "HOOK_SECRETS", "--payload-file"]
    argv += [files["payload"], "--headers-file", files["headers"], "--now", "1614265330"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["key_index"] == 1


def test_svix_prefix_round_trip(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--header-prefix svix- signs and verifies Svix-branded headers."""
    argv = ["webhook", "sign", "--secret-file", files["secret"], "--payload-file"]
    argv += [files["payload"], "--msg-id", MSG_ID, "--timestamp", "1614265330"]
    assert main([*argv, "--header-prefix", "svix-"]) == 0
    out = capsys.readouterr().out
    assert out == HEADERS.replace("webhook-", "svix-")
    (tmp_path / "svix").write_text(out)
    check = ["webhook", "verify", "--secret-file", files["secret"], "--payload-file"]
    check += [files["payload"], "--headers-file", str(tmp_path / "svix"), "--now", "1614265330"]
    assert main([*check, "--header-prefix", "svix-"]) == 0
    assert json.loads(capsys.readouterr().out)["msg_id"] == MSG_ID
    assert main(check) == 1
    assert "missing header webhook-id" in capsys.readouterr().err


@pytest.mark.parametrize("scheme", ["stripe", "github"])
def test_provider_schemes_round_trip(
    scheme: str, files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stripe and GitHub headers printed by sign verify with verify."""
    argv = ["webhook", "sign", "--scheme", scheme, "--secret-file", files["secret"]]
    argv += ["--payload-file", files["payload"]]
    if scheme == "stripe":
        argv += ["--timestamp", "1700000000"]
    assert main(argv) == 0
    (tmp_path / "h").write_text(capsys.readouterr().out)
    check = ["webhook", "verify", "--scheme", scheme, "--secret-file", files["secret"]]
    check += ["--payload-file", files["payload"], "--headers-file", str(tmp_path / "h")]
    assert main([*check, "--now", "1700000000"]) == 0
    assert json.loads(capsys.readouterr().out)["scheme"] == scheme


@pytest.mark.parametrize(
    "extra",
    [
        ["--msg-id", "a", "--scheme", "github"],
        ["--scheme", "github", "--timestamp", "5"],
        ["--scheme", "stripe", "--header-prefix", "svix-"],
        ["--msg-id", "a", "--header-prefix", "Svix"],
    ],
    ids=["msg-id-github", "timestamp-github", "prefix-stripe", "bad-prefix"],
)
def test_sign_usage_mistakes_exit_2(
    extra: list[str], files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Options that do not fit the scheme are one-line usage errors."""
    argv = ["webhook", "sign", "--secret-file", files["secret"], "--payload-file", files["payload"]]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_usage_mistakes_exit_2(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing secrets, secrets on argv, bad header lines, bad secrets: exit 2, one line."""
    base = ["webhook", "verify", "--payload-file", files["payload"]]
    (tmp_path / "bad").write_text("not-a-secret\n")
    (tmp_path / "two").write_text(SECRET + "\n" + SECRET + "\n")
    (tmp_path / "blank").write_text("  \n  \n")
    (tmp_path / "latin").write_bytes(b"whsec_\xff\n")
    (tmp_path / "bad-headers").write_bytes(b"webhook-id: \xff\n")
    cases = [
        [*base, "--headers-file", files["headers"]],
        [*base, "--secret", SECRET],
        [*base, "--secret-file", files["secret"], "--header", "no colon"],
        [*base, "--secret-file", files["secret"]],
        [*base, "--secret-file", str(tmp_path / "bad"), "--headers-file", files["headers"]],
        [*base, "--secret-file", str(tmp_path / "blank"), "--headers-file", files["headers"]],
        [*base, "--secret-file", str(tmp_path / "latin"), "--headers-file", files["headers"]],
        [*base, "--secret-file", files["secret"], "--headers-file", str(tmp_path / "bad-headers")],
        [*base, "--secret-file", files["secret"], "--header", "a: b", "--tolerance", "-1"],
        ["webhook", "verify", "--secret-file", "-", "--header", "a: b"],
        ["webhook", "verify", "--secret-file", files["secret"], "--headers-file", "-"],
        ["webhook", "sign", "--scheme", "stripe", "--secret-file", str(tmp_path / "two")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "Traceback" not in err
        assert SECRET[6:] not in err


def test_python_m_authcore_webhook_help() -> None:
    """The subcommand is registered and documented."""
    result = subprocess.run(
        [sys.executable, "-m", "authcore", "webhook", "verify", "--help"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert b"--secret-file" in result.stdout
    assert b"--secret-env" in result.stdout


def test_bench_groups_build_check_and_run() -> None:
    """The suite builds, smoke-checks its cases, and produces ratios to the floor."""
    built = groups(quick=True)
    assert len(built) == 3
    for group in built:
        assert {"floor", "authcore WebhookVerifier", "authcore verify()"} <= set(group.cases)
        result = run_group(group, min_time=0.002, rounds=1)
        assert {m.name for m in result.results} == set(group.cases)
        assert all(m.median_ops > 0 for m in result.results)


def test_sign_defaults_to_a_fresh_id_and_the_current_time(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --msg-id and --timestamp, sign makes a random id and signs now; it verifies."""
    argv = ["webhook", "sign", "--secret-file", files["secret"], "--payload-file"]
    ids = []
    for _ in range(2):
        assert main([*argv, files["payload"], "--json"]) == 0
        headers = json.loads(capsys.readouterr().out)
        ids.append(headers["webhook-id"])
    assert ids[0] != ids[1]
    assert all(i.startswith("msg_") for i in ids)
    (tmp_path / "h").write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
    check = ["webhook", "verify", "--secret-file", files["secret"], "--payload-file"]
    check += [files["payload"], "--headers-file", str(tmp_path / "h")]
    assert main(check) == 0
    assert json.loads(capsys.readouterr().out)["msg_id"] == ids[1]
