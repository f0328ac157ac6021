"""Files versus contents: from_file loaders, paths refused as data, errors that point the way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from authcore.errors import (
    CertificateExpired,
    ConfigurationError,
    MalformedCertificate,
    UntrustedCertificate,
)
from authcore.mtls import (
    CRLChecker,
    TrustStore,
    load_certificate,
    load_chain,
    load_chain_file,
    load_crl,
    load_crl_file,
    verify_client,
    verify_server,
)
from authcore.mtls._load import MAX_PEM_BYTES
from tests.mtls._pki import NOW, make_ca, make_leaf, pem_of

if TYPE_CHECKING:
    from tests.mtls.conftest import PKI


def _crl_der(pki: PKI) -> bytes:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.inter.cert.subject)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


# ------------------------------------------------------------------------ from_file loaders


@pytest.mark.parametrize("as_path", [True, False])
def test_trust_store_from_file_pem_and_der(pki: PKI, tmp_path: Path, as_path: bool) -> None:
    """TrustStore.from_file reads a PEM bundle or a DER anchor from a str or Path name."""
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pem_of(make_ca("Extra").cert, pki.root.cert))
    der = tmp_path / "ca.der"
    der.write_bytes(pki.root.der)
    for path in (bundle, der):
        store = TrustStore.from_file(path if as_path else str(path))
        assert pki.root.cert in store.anchors
        verify_client([pki.client.cert, pki.inter.cert], trust=store, now=NOW)


def test_trust_store_from_file_keeps_the_options(pki: PKI, tmp_path: Path) -> None:
    """from_file passes pinned leaves and the time window on to the constructor."""
    path = tmp_path / "ca.pem"
    path.write_bytes(pki.root.pem)
    store = TrustStore.from_file(path, pinned=[pki.server.cert], time_window=dt.timedelta(0))
    assert store.pinned == (pki.server.cert,)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read trust bundle file"),
        (b"", "is empty"),
        (b"hello", "neither PEM nor DER"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "invalid PEM"),
        (b"-" * (MAX_PEM_BYTES + 1), "larger than"),
    ],
)
def test_trust_store_from_file_failures(
    tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    """A missing, empty, oversized or unparseable bundle file is a ConfigurationError."""
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=fragment):
        TrustStore.from_file(path)


def test_from_file_given_contents_names_the_contents_loader(pki: PKI) -> None:
    """PEM text passed as a file name says to use the contents loader instead."""
    with pytest.raises(ConfigurationError, match=r"TrustStore\.from_pem"):
        TrustStore.from_file(pki.root.pem.decode())
    with pytest.raises(ConfigurationError, match=r"load_chain\(data\)"):
        load_chain_file(pki.client.pem.decode())
    with pytest.raises(ConfigurationError, match=r"load_crl\(data\)"):
        load_crl_file("-----BEGIN X509 CRL-----\n")


@pytest.mark.parametrize("bad", [b"/etc/ca.pem", 42, "", "bad\x00name"])
def test_from_file_refuses_what_is_not_a_file_name(bad: object) -> None:
    """Bytes, numbers, empty names and names with NUL are ConfigurationError, never OSError."""
    with pytest.raises(ConfigurationError):
        TrustStore.from_file(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        load_chain_file(bad)  # type: ignore[arg-type]


def test_load_chain_file(pki: PKI, tmp_path: Path) -> None:
    """load_chain_file reads a PEM chain, leaf first, or a DER certificate."""
    pem = tmp_path / "chain.pem"
    pem.write_bytes(pem_of(pki.client.cert, pki.inter.cert))
    assert load_chain_file(pem) == (pki.client.cert, pki.inter.cert)
    der = tmp_path / "leaf.der"
    der.write_bytes(pki.client.der)
    assert load_chain_file(str(der)) == (pki.client.cert,)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"junk")
    with pytest.raises(MalformedCertificate, match="neither PEM nor DER"):
        load_chain_file(junk)
    with pytest.raises(ConfigurationError, match="No such file"):
        load_chain_file(tmp_path / "absent.pem")


def test_load_crl_file(pki: PKI, tmp_path: Path) -> None:
    """load_crl_file reads a DER or PEM CRL that CRLChecker then uses."""
    der = _crl_der(pki)
    path = tmp_path / "inter.crl"
    path.write_bytes(der)
    crls = load_crl_file(path)
    assert [c.public_bytes(serialization.Encoding.DER) for c in crls] == [der]
    checker = CRLChecker(crls)
    verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW, revocation=checker)


# ------------------------------------------------------------------ paths refused as data

_PATH_FORMS = ["/etc/ssl/certs/ca.pem", "ca.pem", "C:\\certs\\ca.pem", "caf\u00e9.pem"]


@pytest.mark.parametrize("path", [*_PATH_FORMS, Path("/etc/ca.pem")], ids=repr)
def test_trust_store_refuses_a_path_naming_from_file(path: object) -> None:
    """TrustStore("/etc/ca.pem") or a Path says it got a file name and names from_file."""
    for build in (TrustStore, TrustStore.from_pem, TrustStore.from_der):
        with pytest.raises(ConfigurationError, match=r"TrustStore\.from_file\(path\)") as info:
            build(path)  # type: ignore[arg-type]
        assert "PEM nor DER" in str(info.value) or "file path" in str(info.value)


@pytest.mark.parametrize("path", [*_PATH_FORMS, Path("/etc/ca.pem")], ids=repr)
def test_chain_loaders_refuse_a_path_naming_load_chain_file(pki: PKI, path: object) -> None:
    """A path given as a chain (load_chain, verify_client, verify_server) names load_chain_file."""
    expected = ConfigurationError if isinstance(path, Path) else MalformedCertificate
    calls = (
        lambda: load_chain(path),  # type: ignore[arg-type]
        lambda: load_chain([path]),  # type: ignore[list-item]
        lambda: load_certificate(path),  # type: ignore[arg-type]
        lambda: verify_client(path, trust=pki.trust, now=NOW),  # type: ignore[arg-type]
        lambda: verify_server(path, trust=pki.trust, server_name="a.example", now=NOW),  # type: ignore[arg-type]
    )
    for call in calls:
        with pytest.raises(expected, match=r"load_chain_file\(path\)"):
            call()


@pytest.mark.parametrize("path", [*_PATH_FORMS, Path("/etc/x.crl")], ids=repr)
def test_crl_loaders_refuse_a_path_naming_load_crl_file(path: object) -> None:
    """A path given as CRL data (load_crl, CRLChecker) names load_crl_file."""
    expected = ConfigurationError if isinstance(path, Path) else MalformedCertificate
    with pytest.raises(expected, match=r"load_crl_file\(path\)"):
        load_crl(path)  # type: ignore[arg-type]
    with pytest.raises((ConfigurationError, MalformedCertificate), match=r"load_crl_file"):
        CRLChecker([path])  # type: ignore[list-item]


def test_pinned_and_bundle_paths_name_reading_the_file(pki: PKI) -> None:
    """A path as pinned leaves or a SPIFFE bundle says to pass the file's contents."""
    with pytest.raises(ConfigurationError, match="read_bytes"):
        TrustStore([pki.root.cert], pinned=Path("/etc/leaf.pem"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="read_bytes"):
        TrustStore(spiffe_bundles={"example.org": "/etc/bundle.pem"})


def test_bytes_that_are_neither_pem_nor_der_say_so(pki: PKI) -> None:
    """Bytes that do not start like DER and hold no PEM header are named as neither."""
    with pytest.raises(MalformedCertificate, match="neither PEM nor DER"):
        load_chain(b"/etc/ca.pem")
    with pytest.raises(ConfigurationError, match="neither PEM nor DER"):
        TrustStore(b"/etc/ca.pem")
    with pytest.raises(MalformedCertificate, match="not a valid DER"):
        load_chain(b"\x30\x03\x02\x01\x01")
    assert load_chain(pki.client.der) == (pki.client.cert,)


def test_non_iterable_anchors_are_a_configuration_error() -> None:
    """An anchor argument that is neither data nor an iterable is ConfigurationError."""
    with pytest.raises(ConfigurationError, match="unsupported type"):
        TrustStore(42)  # type: ignore[arg-type]


# --------------------------------------------------------------- which issuer is missing


def test_missing_intermediate_names_the_missing_issuer(pki: PKI) -> None:
    """A chain without its intermediate names that issuer, not "candidates exhausted"."""
    with pytest.raises(UntrustedCertificate) as info:
        verify_client(pki.client.cert, trust=pki.trust, now=NOW)
    reason = info.value.reason
    assert "CN=Test Intermediate" in reason
    assert "issuer" in reason
    assert "leaf" in reason
    assert "missing intermediate" in reason
    assert "candidates exhausted" not in reason


def test_missing_upper_intermediate_names_the_certificate_that_needs_it() -> None:
    """With a two-level intermediate chain, the missing upper issuer is named with its child."""
    root = make_ca("Deep Root")
    upper = make_ca("Upper CA", issuer=root)
    lower = make_ca("Lower CA", issuer=upper)
    leaf = make_leaf(lower)
    with pytest.raises(UntrustedCertificate, match=r"'CN=Upper CA' of chain\[1\]"):
        verify_client([leaf.cert, lower.cert], trust=TrustStore([root.cert]), now=NOW)
    verify_client([leaf.cert, lower.cert, upper.cert], trust=TrustStore([root.cert]), now=NOW)


def test_chain_to_another_root_says_its_root_is_not_an_anchor(pki: PKI) -> None:
    """A chain that ends at an unknown root names the root as not a trust anchor."""
    with pytest.raises(UntrustedCertificate) as info:
        verify_client(
            [pki.client.cert, pki.inter.cert, pki.root.cert],
            trust=TrustStore([pki.other_root.cert]),
            now=NOW,
        )
    assert "'CN=Test Root'" in info.value.reason
    assert "not a trust anchor" in info.value.reason


def test_present_issuer_with_wrong_key_keeps_the_signature_reason(pki: PKI) -> None:
    """When the issuer's name is present but its key differs, cryptography's reason stays."""
    impostor = make_ca("Test Root")  # same name, another key
    with pytest.raises(UntrustedCertificate, match="signature") as info:
        verify_client([pki.client.cert, pki.inter.cert], trust=TrustStore([impostor.cert]), now=NOW)
    assert "missing intermediate" not in info.value.reason


# ------------------------------------------------------------------------ now= convention


@pytest.mark.parametrize(
    "now", [NOW, NOW.timestamp(), int(NOW.timestamp())], ids=["datetime", "float", "int"]
)
def test_now_takes_datetime_or_unix_seconds(pki: PKI, now: object) -> None:
    """verify_client and verify_server accept an aware datetime or UNIX seconds as now."""
    verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=now)  # type: ignore[arg-type]
    verify_server(
        [pki.server.cert, pki.inter.cert],
        trust=pki.trust,
        server_name="api.example.com",
        now=now,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("now", [True, float("nan"), "2025-06-01", 1e20])
def test_bad_now_is_a_configuration_error_naming_now(pki: PKI, now: object) -> None:
    """A bool, NaN, text or an out-of-range number as now is ConfigurationError naming now."""
    with pytest.raises(ConfigurationError, match="now"):
        verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=now)  # type: ignore[arg-type]


def test_unix_seconds_decide_validity_like_the_datetime(pki: PKI) -> None:
    """Seconds after the leaf's notAfter are refused exactly as the equivalent datetime."""
    after = pki.client.cert.not_valid_after_utc + dt.timedelta(seconds=1)
    for now in (after, after.timestamp()):
        with pytest.raises(CertificateExpired):
            verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=now)
