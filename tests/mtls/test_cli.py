"""The ``authcore mtls verify|thumbprint`` command."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.cli import main
from authcore.mtls import thumbprint
from tests.mtls._pki import make_ca, make_crl, make_leaf, pem_of

if TYPE_CHECKING:
    from pathlib import Path

    from tests.mtls.conftest import PKI

_TIME = "2025-06-01T12:00:00Z"


@pytest.fixture
def files(pki: PKI, tmp_path: Path) -> Path:
    (tmp_path / "ca.pem").write_bytes(pki.root.pem)
    (tmp_path / "client.pem").write_bytes(pem_of(pki.client.cert, pki.inter.cert))
    (tmp_path / "server.pem").write_bytes(pem_of(pki.server.cert, pki.inter.cert))
    (tmp_path / "leaf.der").write_bytes(pki.client.der)
    return tmp_path


def test_verify_client_ok(files: Path, pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid client chain exits 0 and prints the identity."""
    code = main(
        [
            "mtls",
            "verify",
            "--ca",
            str(files / "ca.pem"),
            "--time",
            _TIME,
            str(files / "client.pem"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "OK: client certificate verified" in out
    assert thumbprint(pki.client.cert) in out
    assert "dns_names: client.example" in out


def test_verify_server_json(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--server-name verifies as a server; --json prints a JSON object."""
    code = main(
        [
            "mtls",
            "verify",
            "--ca",
            str(files / "ca.pem"),
            "--server-name",
            "api.example.com",
            "--time",
            _TIME,
            "--json",
            str(files / "server.pem"),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dns_names"] == ["api.example.com", "*.svc.example.com"]
    assert len(data["chain"]) == 3


def test_verify_refusals_exit_1(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Name mismatch, expiry and untrusted chains exit 1 with the error code."""
    base = ["mtls", "verify", "--ca", str(files / "ca.pem")]
    assert (
        main([*base, "--server-name", "nope.example", "--time", _TIME, str(files / "server.pem")])
        == 1
    )
    assert "name_mismatch" in capsys.readouterr().err
    assert main([*base, "--time", "2030-01-01T00:00:00+00:00", str(files / "client.pem")]) == 1
    assert "certificate_expired" in capsys.readouterr().err
    assert main([*base, "--time", _TIME, str(files / "leaf.der")]) == 1
    assert "untrusted_certificate" in capsys.readouterr().err


def test_verify_with_crl(files: Path, pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    """--crl refuses a revoked leaf and accepts an unlisted one."""
    leaf = make_leaf(pki.inter)
    (files / "revoked.pem").write_bytes(pem_of(leaf.cert, pki.inter.cert))
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    crl = make_crl(pki.inter, [(leaf.cert.serial_number, None)])
    (files / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    base = [
        "mtls",
        "verify",
        "--ca",
        str(files / "ca.pem"),
        "--crl",
        str(files / "crl.pem"),
        "--time",
        _TIME,
    ]
    assert main([*base, str(files / "revoked.pem")]) == 1
    assert "revoked_certificate" in capsys.readouterr().err
    assert main([*base, str(files / "client.pem")]) == 0


def test_usage_errors_exit_2(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Missing files, bad times and bad anchors exit 2 with one line."""
    ca = str(files / "ca.pem")
    assert (
        main(["mtls", "verify", "--ca", str(files / "missing.pem"), str(files / "client.pem")]) == 2
    )
    assert (
        main(["mtls", "verify", "--ca", ca, "--time", "yesterday", str(files / "client.pem")]) == 2
    )
    assert (
        main(
            [
                "mtls",
                "verify",
                "--ca",
                ca,
                "--time",
                "2025-06-01T12:00:00",
                str(files / "client.pem"),
            ]
        )
        == 2
    )
    (files / "junk.pem").write_bytes(b"junk")
    assert main(["mtls", "verify", "--ca", str(files / "junk.pem"), str(files / "client.pem")]) == 2
    assert main(["mtls", "thumbprint", str(files / "junk.pem")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith("authcore: ") for line in err.strip().splitlines())


def test_thumbprint(files: Path, pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    """Thumbprint prints x5t#S256 of the first certificate, PEM or DER."""
    assert main(["mtls", "thumbprint", str(files / "client.pem")]) == 0
    assert main(["mtls", "thumbprint", str(files / "leaf.der")]) == 0
    assert capsys.readouterr().out.split() == [thumbprint(pki.client.cert)] * 2


@pytest.mark.parametrize("server", [False, True])
def test_verify_require_key_identifiers(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server: bool,
) -> None:
    """--require-key-identifiers refuses an intermediate without SKI (exit 1); default accepts."""
    root = make_ca("CLI KI Root")
    inter = make_ca("CLI KI Intermediate", issuer=root, ski=False)
    usages = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH)
    leaf = make_leaf(inter, dns=("leaf.example",), eku=usages)
    (tmp_path / "ca.pem").write_bytes(root.pem)
    (tmp_path / "chain.pem").write_bytes(pem_of(leaf.cert, inter.cert))
    argv = ["mtls", "verify", "--ca", str(tmp_path / "ca.pem"), "--time", _TIME]
    argv += ["--server-name", "leaf.example"] if server else []
    assert main([*argv, str(tmp_path / "chain.pem")]) == 0
    capsys.readouterr()
    assert main([*argv, "--require-key-identifiers", str(tmp_path / "chain.pem")]) == 1
    assert "subjectKeyIdentifier" in capsys.readouterr().err
