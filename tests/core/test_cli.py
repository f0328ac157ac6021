"""The `authcore` command skeleton and the benchmark engine."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from authcore import __version__
from authcore._bench import (
    Group,
    GroupResult,
    Measurement,
    load_suites,
    render_markdown,
    run_group,
    suite_names,
)
from authcore.cli import build_parser, main, subcommand_modules
from authcore.cli._common import add_secret_options, read_input, read_secret, write_output
from authcore.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "authcore", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )


def test_version_via_python_m() -> None:
    """`python -m authcore --version` prints the version and exits 0."""
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"authcore {__version__}"


def test_help_lists_every_subcommand() -> None:
    """--help names each registered subcommand."""
    result = _run("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for module in subcommand_modules():
        assert module.removeprefix("_") in text


def test_usage_mistakes_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or option prints one line on stderr and exits 2."""
    for argv in (["no-such-command"], ["bench", "--no-such-option"], ["bench", "--rounds", "x"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("authcore: error: ")
        assert "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Running without a command shows usage on stderr."""
    assert main([]) == 2
    assert "usage: authcore" in capsys.readouterr().err


def test_subcommand_modules_are_discovered() -> None:
    """The registry is the package: every _<name> module with register() is a command."""
    assert "_bench" in subcommand_modules()
    assert "_common" not in subcommand_modules()
    assert build_parser().prog == "authcore"


def _secret_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_secret_options(parser, "pepper", help_name="pepper")
    return parser


def test_secrets_from_file_env_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets come from a file (newline stripped), an environment variable or stdin."""
    path = tmp_path / "pepper"
    path.write_bytes(b"s3cret\n")
    args = _secret_parser().parse_args(["--pepper-file", str(path)])
    assert read_secret(args, "pepper") == b"s3cret"
    monkeypatch.setenv("MY_PEPPER", "from-env")
    args = _secret_parser().parse_args(["--pepper-env", "MY_PEPPER"])
    assert read_secret(args, "pepper") == b"from-env"


def test_secret_errors_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing, unset, empty or unreadable secrets raise UsageError; optional ones may be None."""
    parser = _secret_parser()
    with pytest.raises(UsageError, match="--pepper-file PATH or --pepper-env VAR"):
        read_secret(parser.parse_args([]), "pepper")
    assert read_secret(parser.parse_args([]), "pepper", required=False) is None
    monkeypatch.delenv("UNSET_VAR", raising=False)
    with pytest.raises(UsageError, match="UNSET_VAR is not set"):
        read_secret(parser.parse_args(["--pepper-env", "UNSET_VAR"]), "pepper")
    empty = tmp_path / "empty"
    empty.write_bytes(b"\n")
    with pytest.raises(UsageError, match="empty"):
        read_secret(parser.parse_args(["--pepper-file", str(empty)]), "pepper")
    with pytest.raises(UsageError, match="cannot read"):
        read_input(str(tmp_path / "missing"))


def test_write_output(tmp_path: Path) -> None:
    """write_output writes files and refuses unwritable paths with UsageError."""
    target = tmp_path / "out.txt"
    write_output("hello", str(target))
    assert target.read_text() == "hello"
    with pytest.raises(UsageError, match="cannot write"):
        write_output("x", str(tmp_path / "missing-dir" / "out"))


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """Run with umask 0 (restored afterwards): only an explicit mode can keep a file private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("wide_umask")
def test_private_output_is_mode_0600(tmp_path: Path) -> None:
    """write_output(private=True) creates the file 0600 even with umask 0; plain output does not."""
    secret = tmp_path / "secret"
    write_output(b"s3cret", str(secret), private=True)
    assert secret.read_bytes() == b"s3cret"
    assert _mode(secret) == 0o600
    plain = tmp_path / "plain"
    write_output("public", str(plain))
    assert _mode(plain) == 0o666  # the umask decides for output that is not secret


@pytest.mark.usefixtures("wide_umask")
def test_jwk_generate_out_writes_0600(tmp_path: Path) -> None:
    """`jwk generate --out` writes the private key (JSON or PEM) with mode 0600, never 0644."""
    for argv, name in ((["--alg", "ES256"], "k.json"), (["--alg", "EdDSA", "--pem"], "k.pem")):
        path = tmp_path / name
        assert main(["jwk", "generate", *argv, "--out", str(path)]) == 0
        assert _mode(path) == 0o600
        assert path.read_bytes().strip()


@pytest.mark.usefixtures("wide_umask")
def test_jwe_decrypt_out_writes_0600(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`jwe decrypt --out` writes the plaintext with mode 0600."""
    key = tmp_path / "key.json"
    assert main(["jwk", "generate", "--alg", "A128GCM", "--out", str(key)]) == 0
    (tmp_path / "msg").write_bytes(b"payroll")
    token = tmp_path / "token"
    encrypt = ["jwe", "encrypt", str(tmp_path / "msg"), "--key-file", str(key), "--enc", "A128GCM"]
    assert main([*encrypt, "--out", str(token)]) == 0
    assert _mode(token) == 0o666  # a ciphertext is not secret
    plain = tmp_path / "plain"
    decrypt = ["jwe", "decrypt", str(token), "--key-file", str(key), "--alg", "dir"]
    assert main([*decrypt, "--enc", "A128GCM", "--out", str(plain)]) == 0
    assert plain.read_bytes() == b"payroll"
    assert _mode(plain) == 0o600
    capsysbinary.readouterr()


def test_private_output_never_replaces_a_file_or_follows_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing file or symlink at --out is refused (exit 2) and left exactly as it was."""
    existing = tmp_path / "old.json"
    existing.write_text("the old key")
    existing.chmod(0o644)
    assert main(["jwk", "generate", "--alg", "ES256", "--out", str(existing)]) == 2
    assert "exists" in capsys.readouterr().err
    assert existing.read_text() == "the old key"
    assert _mode(existing) == 0o644
    target = tmp_path / "elsewhere"
    link = tmp_path / "link.json"
    link.symlink_to(target)  # dangling: following it would create `elsewhere`
    assert main(["jwk", "generate", "--alg", "ES256", "--out", str(link)]) == 2
    assert not target.exists()
    with pytest.raises(UsageError, match="cannot write"):
        write_output(b"x", str(tmp_path / "missing-dir" / "key"), private=True)


def test_bench_quick_json_runs_the_encoding_suite() -> None:
    """`authcore bench --quick --suite encoding --json -` prints ratios to the floor."""
    result = _run("bench", "--quick", "--suite", "encoding", "--json", "-", "--min-time", "0.005")
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert data[0]["floor"] == "stdlib"
    names = {row["name"]: row for row in data[0]["results"]}
    assert names["stdlib"]["ratio_to_floor"] == 1.0
    assert names["authcore strict"]["ops_per_sec"] > 0
    assert b"building and checking" in result.stderr


def test_bench_markdown_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default report is Markdown; --json PATH also writes JSON."""
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--suite", "encoding", "--min-time", "0.005", "--rounds", "1"]
    assert main([*argv, "--json", str(out)]) == 0
    assert "| implementation | ops/s | x floor |" in capsys.readouterr().out
    assert json.loads(out.read_text())[0]["group"].startswith("base64url")


def test_bench_ends_with_one_line_on_the_built_in_checks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run ends with whether every check passed; a failing check exits 1, no traceback."""
    argv = ["bench", "--quick", "--suite", "encoding", "--min-time", "0.005", "--rounds", "1"]
    assert main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("all ")
    assert err[-1].endswith(" built-in checks passed")
    (suite,) = load_suites(["encoding"])

    def broken(quick: bool) -> list[Group]:
        del quick
        raise AssertionError("strict base64url disagrees with the floor")

    monkeypatch.setattr(suite, "groups", broken)
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        "built-in checks FAILED in 1 suite(s): encoding: AssertionError: "
        "strict base64url disagrees with the floor"
    )


@pytest.mark.parametrize(
    ("floor", "reference", "ratio", "note"),
    [
        ("floor", False, 1.3, "a ratio above 1 against a floor is not a win"),
        ("floor", True, 1.3, None),
        ("floor", False, 0.8, None),
        ("x, 1 thread", True, 0.8, "Slower with two: x, 2 threads."),
        ("x, 1 thread", True, 1.4, None),
    ],
)
def test_reports_explain_ratios_that_would_mislead(
    floor: str, reference: bool, ratio: float, note: str | None
) -> None:
    """A ratio above a real floor, and a thread slow-down, are explained under the table."""
    result = GroupResult(
        group="g",
        floor=floor,
        note="",
        reference=reference,
        results=(
            Measurement(name=floor, ops=(100.0,), ratios=(1.0,)),
            Measurement(
                name="x, 2 threads" if "thread" in floor else "other",
                ops=(100.0 * ratio,),
                ratios=(ratio,),
            ),
        ),
    )
    report = render_markdown([result])
    if note is None:
        assert "note:" not in report
    else:
        assert note in report


def test_thread_notes_compare_each_implementation_with_itself() -> None:
    """A slower implementation on one thread is no slow-down; its own 2-thread drop is."""
    results = (
        Measurement(name="a, 1 thread", ops=(100.0,), ratios=(1.0,)),
        Measurement(name="a, 2 threads", ops=(150.0,), ratios=(1.5,)),
        Measurement(name="b, 1 thread", ops=(50.0,), ratios=(0.5,)),
        Measurement(name="b, 2 threads", ops=(40.0,), ratios=(0.4,)),
    )
    group = GroupResult(group="g", floor="a, 1 thread", note="", reference=True, results=results)
    report = render_markdown([group])
    assert "Slower with two: b, 2 threads." in report
    assert "a, 2 threads" not in report.split("Slower with two:")[1]


def test_bench_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown suite name exits 2 and lists the suites."""
    assert main(["bench", "--suite", "nope"]) == 2
    assert "choose from" in capsys.readouterr().err


def test_run_group_reports_ratios_within_a_round() -> None:
    """The engine times every case and divides by the floor of the same round."""
    calls = {"floor": 0, "double": 0}

    def floor() -> None:
        calls["floor"] += 1

    def double() -> None:
        calls["double"] += 1
        sum(range(50))

    progress: list[str] = []
    result = run_group(
        Group(name="g", floor="floor", cases={"floor": floor, "double": double}),
        min_time=0.01,
        rounds=2,
        progress=progress.append,
    )
    assert calls["floor"] > 0
    assert calls["double"] > 0
    by_name = {m.name: m for m in result.results}
    assert by_name["floor"].ratios == (1.0, 1.0)
    assert len(by_name["double"].ops) == 2
    assert 0 < by_name["double"].median_ratio < 1
    assert progress == ["g: round 1/2", "g: round 2/2"]
    assert "| floor (floor) |" in render_markdown([result])


def test_every_suite_builds_and_smoke_checks() -> None:
    """Every bench suite builds its groups (which checks each case's result)."""
    for suite in load_suites():
        groups = suite.groups(True)
        assert groups, suite.NAME
        for group in groups:
            assert group.floor in group.cases
    assert "encoding" in suite_names()


def _all_parsers() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every parser of the ``authcore`` command, discovered (commands added later included)."""
    found: list[tuple[list[str], argparse.ArgumentParser]] = []
    todo: list[tuple[list[str], argparse.ArgumentParser]] = [([], build_parser())]
    while todo:
        path, parser = todo.pop()
        found.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(([*path, name], sub) for name, sub in action.choices.items())
    return found


_SECRET_WORDS = ("secret", "key", "password", "pepper", "token", "passphrase")


def test_every_command_documents_exit_codes_and_takes_no_secret_from_argv(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Walk every subcommand's --help: exit codes shown, secrets only as -file/-env options."""
    parsers = _all_parsers()
    assert len(parsers) > 20  # every module registered its commands
    for path, parser in parsers:
        with pytest.raises(SystemExit) as exited:
            main([*path, "--help"])
        assert exited.value.code == 0, path
        out = capsys.readouterr().out
        assert "exit codes: 0 success; 1 " in " ".join(out.split()), path
        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
        if leaf and path:
            assert "--json" in parser._option_string_actions, path
        for action in parser._actions:
            for option in action.option_strings:
                words = option.lstrip("-").split("-")
                if any(word in _SECRET_WORDS for word in words) and action.nargs != 0:
                    # A secret-bearing option names where to read it, never the value itself.
                    assert words[-1] in (
                        "file",
                        "env",
                        "id",
                        "prefix",
                        "url",
                        "alg",
                        "size",
                        "endpoint",
                    ), (
                        path,
                        option,
                    )


def test_json_output_of_the_token_and_key_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one JSON object that carries what the plain output carries."""
    from authcore.jose import JWK, jwe, jws  # noqa: PLC0415

    key = JWK.generate("ES256", kid="k1")
    private = tmp_path / "k.json"
    private.write_text(json.dumps(key.to_dict(private=True)))
    payload = tmp_path / "payload"
    payload.write_bytes(b"hello")

    assert main(["jws", "sign", "--key-file", str(private), "--in", str(payload), "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert jws.verify(token, key, algorithms=["ES256"]).payload == b"hello"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    argv = ["jws", "verify", "--key-file", str(private), "--alg", "ES256", "--json"]
    assert main([*argv, "--token-file", str(token_file)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["payload"] == "hello"
    assert shown["header"]["alg"] == "ES256"

    argv = ["jwt", "encode", "--key-file", str(private), "--claims", '{"sub": "u"}', "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["token"].count(".") == 2

    assert main(["jwk", "thumbprint", "--key-file", str(private), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "thumbprints": [{"kid": "k1", "thumbprint": key.thumbprint()}]
    }
    assert main(["jwk", "public", "--key-file", str(private), "--json", "--pem"]) == 2
    assert "alternatives" in capsys.readouterr().err

    secret = JWK.from_secret(b"k" * 32, alg="A256KW")
    secret_file = tmp_path / "s.json"
    secret_file.write_text(json.dumps(secret.to_dict(private=True)))
    sealed = tmp_path / "sealed"
    sealed.write_text(jwe.encrypt(b"\xffbinary", secret, enc="A256GCM"))
    argv = ["jwe", "decrypt", "--key-file", str(secret_file), "--alg", "A256KW"]
    argv += ["--enc", "A256GCM", str(sealed), "--json"]
    assert main(argv) == 0
    opened = json.loads(capsys.readouterr().out)
    assert opened["plaintext_b64url"] == "_2JpbmFyeQ"
    assert opened["header"]["enc"] == "A256GCM"


def test_one_time_flag_for_every_command_in_both_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--time` (ISO 8601 with offset, or UNIX seconds) is the one as-of flag everywhere."""
    from authcore.cli._common import parse_time  # noqa: PLC0415
    from authcore.jose import JWK, jwt  # noqa: PLC0415

    for path, parser in _all_parsers():
        names = set(parser._option_string_actions)
        assert not names & {"--at", "--as-of", "--when"}, path
        if "--now" in names:  # the one alias kept: it must be the same option as --time
            assert parser._option_string_actions["--now"] is parser._option_string_actions["--time"]
    assert parse_time("0") == parse_time("1970-01-01T00:00:00Z")
    assert parse_time("1700000000.5") == parse_time("2023-11-14T22:13:20.500000+00:00")
    for bad in ("yesterday", "2025-01-01T00:00:00", "1e400"):
        with pytest.raises(UsageError, match="--time"):
            parse_time(bad)

    key = JWK.generate("ES256")
    private = tmp_path / "k.json"
    private.write_text(json.dumps(key.to_dict(private=True)))
    token = tmp_path / "t"
    token.write_text(jwt.encode({"exp": 1_000_000}, key))
    argv = [
        "jwt",
        "verify",
        "--key-file",
        str(private),
        "--alg",
        "ES256",
        "--token-file",
        str(token),
    ]
    assert main(argv) == 1  # expired now
    capsys.readouterr()
    assert main([*argv, "--time", "999000"]) == 0
    assert json.loads(capsys.readouterr().out) == {"exp": 1_000_000}
