"""verify_client / verify_server: paths, time, strict leaf policy, pinning, typed errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import VerificationError

from authcore.errors import (
    CertificateExpired,
    ConfigurationError,
    MalformedCertificate,
    NameMismatch,
    PolicyViolation,
    UntrustedCertificate,
    WrongUsage,
)
from authcore.mtls import ClientIdentity, TrustStore, thumbprint, verify_client, verify_server
from authcore.mtls._chain import _map_error
from tests.mtls._pki import (
    DAY,
    NOW,
    UTC,
    make_ca,
    make_leaf,
    make_self_signed_leaf,
    pem_of,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.mtls.conftest import PKI


def test_verify_client_returns_identity(pki: PKI) -> None:
    """A valid client chain yields the chain, SAN names, subject and thumbprint."""
    ident = verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW)
    assert ident.chain == (pki.client.cert, pki.inter.cert, pki.root.cert)
    assert ident.certificate == pki.client.cert
    assert ident.dns_names == ("client.example",)
    assert ident.uris == ("https://client.example/id",)
    assert ident.emails == ("ops@example.com",)
    assert ident.ip_addresses == (ipaddress.ip_address("192.0.2.7"),)
    assert ident.subject_text == "CN=client-1"
    assert ident.thumbprint == thumbprint(pki.client.cert)
    assert ident.spiffe_id is None


@pytest.mark.parametrize("form", ["objects", "pem_bundle", "pem_str", "der_list", "pem_list"])
def test_input_forms_are_equivalent(pki: PKI, form: str) -> None:
    """Certificate objects, PEM bundles, PEM text and DER all verify the same way."""
    chain: object = {
        "objects": [pki.client.cert, pki.inter.cert],
        "pem_bundle": pem_of(pki.client.cert, pki.inter.cert),
        "pem_str": pem_of(pki.client.cert, pki.inter.cert).decode(),
        "der_list": [pki.client.der, pki.inter.der],
        "pem_list": [pki.client.pem.decode(), pki.inter.pem],
    }[form]
    ident = verify_client(chain, trust=pki.trust, now=NOW)  # type: ignore[arg-type]
    assert ident.thumbprint == thumbprint(pki.client.cert)


def test_trust_store_from_pem_and_der(pki: PKI) -> None:
    """TrustStore.from_pem and from_der build working stores."""
    for store in (TrustStore.from_pem(pki.root.pem), TrustStore.from_der(pki.root.der)):
        assert store.anchors == (pki.root.cert,)
        verify_client([pki.client.cert, pki.inter.cert], trust=store, now=NOW)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        42,
    ],
)
def test_malformed_input_is_typed(pki: PKI, bad: object) -> None:
    """Garbage, empty and wrongly typed chains raise MalformedCertificate."""
    with pytest.raises(MalformedCertificate):
        verify_client(bad, trust=pki.trust, now=NOW)  # type: ignore[arg-type]


def test_bad_trust_store_config() -> None:
    """Empty stores, unparseable anchors and bad windows are configuration errors."""
    with pytest.raises(ConfigurationError):
        TrustStore()
    with pytest.raises(ConfigurationError):
        TrustStore.from_pem(b"junk")
    with pytest.raises(ConfigurationError):
        TrustStore([b"junk"])
    with pytest.raises(ConfigurationError):
        TrustStore(spiffe_bundles={"Bad Domain": []})


def test_untrusted_chain(pki: PKI) -> None:
    """A chain to another root is UntrustedCertificate."""
    with pytest.raises(UntrustedCertificate):
        verify_client(
            [pki.client.cert, pki.inter.cert], trust=TrustStore([pki.other_root.cert]), now=NOW
        )


def test_missing_intermediate_is_untrusted(pki: PKI) -> None:
    """Without the intermediate no path exists."""
    with pytest.raises(UntrustedCertificate):
        verify_client(pki.client.cert, trust=pki.trust, now=NOW)


@pytest.mark.parametrize("when", [NOW + 31 * DAY, NOW - 31 * DAY])
def test_leaf_outside_validity(pki: PKI, when: dt.datetime) -> None:
    """A leaf before notBefore or after notAfter is CertificateExpired."""
    with pytest.raises(CertificateExpired):
        verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=when)


def test_naive_now_is_refused(pki: PKI) -> None:
    """A naive datetime is a configuration error."""
    naive = dt.datetime(2025, 6, 1)  # noqa: DTZ001 - the naive value under test
    with pytest.raises(ConfigurationError):
        verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=naive)


def test_cached_verifier_honours_exact_expiry(pki: PKI) -> None:
    """A verifier cached for a window start refuses a leaf that expired within the window."""
    window_start = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    leaf = make_leaf(pki.inter, not_after=window_start + dt.timedelta(minutes=10))
    trust = TrustStore([pki.root.cert], time_window=dt.timedelta(hours=1))
    verify_client(
        [leaf.cert, pki.inter.cert], trust=trust, now=window_start + dt.timedelta(minutes=5)
    )
    with pytest.raises(CertificateExpired):
        verify_client(
            [leaf.cert, pki.inter.cert], trust=trust, now=window_start + dt.timedelta(minutes=11)
        )
    assert len(trust._cache) == 1


def test_cached_verifier_accepts_leaf_valid_since_window_start(pki: PKI) -> None:
    """A leaf whose notBefore falls inside the window is accepted at an exact later now."""
    window_start = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    leaf = make_leaf(pki.inter, not_before=window_start + dt.timedelta(minutes=10))
    trust = TrustStore([pki.root.cert], time_window=dt.timedelta(hours=1))
    with pytest.raises(CertificateExpired):
        verify_client(
            [leaf.cert, pki.inter.cert], trust=trust, now=window_start + dt.timedelta(minutes=9)
        )
    ident = verify_client(
        [leaf.cert, pki.inter.cert], trust=trust, now=window_start + dt.timedelta(minutes=11)
    )
    assert ident.certificate == leaf.cert


def test_verifiers_are_reused_within_a_window(pki: PKI) -> None:
    """Calls within one window reuse one verifier; a new window builds another."""
    trust = TrustStore([pki.root.cert])
    for seconds in (0, 10, 59):
        verify_client(
            [pki.client.cert, pki.inter.cert], trust=trust, now=NOW + dt.timedelta(seconds=seconds)
        )
    assert len(trust._cache) == 1
    verify_client(
        [pki.client.cert, pki.inter.cert], trust=trust, now=NOW + dt.timedelta(seconds=61)
    )
    assert len(trust._cache) == 2


def test_client_leaf_needs_client_auth_eku(pki: PKI) -> None:
    """A serverAuth-only leaf is refused as a client with WrongUsage."""
    with pytest.raises(WrongUsage):
        verify_client([pki.server.cert, pki.inter.cert], trust=pki.trust, now=NOW)


def test_leaf_without_eku_is_refused_unless_configured(pki: PKI) -> None:
    """No EKU is WrongUsage by default and accepted with require_eku=False."""
    leaf = make_leaf(pki.inter, eku=None)
    with pytest.raises(WrongUsage):
        verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW)
    verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW, require_eku=False)


def test_any_eku_leaf_is_refused(pki: PKI) -> None:
    """A leaf listing anyExtendedKeyUsage is WrongUsage."""
    leaf = make_leaf(
        pki.inter,
        eku=(ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE),
    )
    with pytest.raises(WrongUsage):
        verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW)


@pytest.mark.parametrize(
    ("key_factory", "fragment"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), "below 2048"),  # noqa: S505 - on purpose
        (lambda: rsa.generate_private_key(65537, 2052), "multiple of 8"),
        (lambda: dsa.generate_private_key(2048), "DSA"),
        (lambda: ec.generate_private_key(ec.SECP192R1()), "secp192r1"),
    ],
    ids=["rsa1024", "rsa2052", "dsa", "p192"],
)
def test_weak_leaf_keys_are_refused(pki: PKI, key_factory: object, fragment: str) -> None:
    """RSA below 2048 or not a multiple of 8, DSA and P-192 leaf keys are PolicyViolation."""
    leaf = make_leaf(pki.inter, key=key_factory())  # type: ignore[operator]
    with pytest.raises(PolicyViolation, match=fragment):
        verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW)


def test_ed25519_leaf_key_is_allowed(pki: PKI) -> None:
    """An Ed25519 leaf key (signed by an ECDSA CA) is accepted."""
    leaf = make_leaf(pki.inter, key=ed25519.Ed25519PrivateKey.generate())
    verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW)


def test_max_chain_depth(pki: PKI) -> None:
    """max_chain_depth=0 refuses a chain with one intermediate; 1 accepts it."""
    with pytest.raises(PolicyViolation):
        verify_client(
            [pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW, max_chain_depth=0
        )
    verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW, max_chain_depth=1)
    with pytest.raises(ConfigurationError):
        verify_client([pki.client.cert], trust=pki.trust, now=NOW, max_chain_depth=-1)


def test_verify_server_dns_wildcard_and_ip(pki: PKI) -> None:
    """verify_server matches SAN DNS names, wildcards and IP addresses."""
    chain = [pki.server.cert, pki.inter.cert]
    for server_name in ("api.example.com", "db.svc.example.com", "2001:db8::1", "2001:DB8:0::1"):
        ident = verify_server(chain, trust=pki.trust, server_name=server_name, now=NOW)
        assert ident.server_name == server_name
        assert ident.dns_names == ("api.example.com", "*.svc.example.com")


@pytest.mark.parametrize("server_name", ["other.example.com", "a.b.svc.example.com", "2001:db8::2"])
def test_verify_server_name_mismatch(pki: PKI, server_name: str) -> None:
    """A name absent from the SAN is NameMismatch."""
    with pytest.raises(NameMismatch):
        verify_server(
            [pki.server.cert, pki.inter.cert], trust=pki.trust, server_name=server_name, now=NOW
        )


def test_verify_server_needs_server_auth(pki: PKI) -> None:
    """A clientAuth-only leaf is refused as a server."""
    with pytest.raises(WrongUsage):
        verify_server(
            [pki.client.cert, pki.inter.cert],
            trust=pki.trust,
            server_name="client.example",
            now=NOW,
        )


@pytest.mark.parametrize("server_name", ["", "bad name!", "a..b"])
def test_verify_server_bad_server_name(pki: PKI, server_name: str) -> None:
    """An invalid server_name is a configuration error."""
    with pytest.raises(ConfigurationError):
        verify_server(
            [pki.server.cert, pki.inter.cert], trust=pki.trust, server_name=server_name, now=NOW
        )


def test_pinned_leaf() -> None:
    """A pinned self-signed leaf is trusted as it is; an unpinned one is not."""
    pinned = make_self_signed_leaf(dns=("pinned.example",))
    trust = TrustStore(pinned=[pinned.cert])
    ident = verify_client(pinned.cert, trust=trust, now=NOW)
    assert ident.chain == (pinned.cert,)
    verify_server(pinned.cert, trust=trust, server_name="pinned.example", now=NOW)
    with pytest.raises(NameMismatch):
        verify_server(pinned.cert, trust=trust, server_name="other.example", now=NOW)
    with pytest.raises(CertificateExpired):
        verify_client(pinned.cert, trust=trust, now=NOW + 2 * DAY)
    with pytest.raises(UntrustedCertificate):
        verify_client(make_self_signed_leaf().cert, trust=trust, now=NOW)


def test_expired_intermediate(pki: PKI) -> None:
    """An expired intermediate makes the chain CertificateExpired."""
    inter = make_ca("Old Intermediate", issuer=pki.root, not_after=NOW - DAY)
    leaf = make_leaf(inter, not_after=NOW + DAY)
    with pytest.raises(CertificateExpired):
        verify_client([leaf.cert, inter.cert], trust=pki.trust, now=NOW)


def test_anchor_without_key_usage_is_accepted() -> None:
    """A trust anchor without keyUsage is accepted (RFC 5280 6.1.1(d))."""
    root = make_ca("No KU Root", key_usage=False)
    leaf = make_leaf(root)
    verify_client(leaf.cert, trust=TrustStore([root.cert]), now=NOW)


def test_intermediate_without_key_usage_is_refused(pki: PKI) -> None:
    """An intermediate without keyUsage is still refused."""
    inter = make_ca("No KU Intermediate", issuer=pki.root, key_usage=False)
    leaf = make_leaf(inter)
    with pytest.raises(WrongUsage, match=r"2\.5\.29\.15|keyUsage"):
        verify_client([leaf.cert, inter.cert], trust=pki.trust, now=NOW)


def test_uri_name_constraints_fail_closed() -> None:
    """A CA with URI name constraints cannot verify anything (cryptography fails closed)."""
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.UniformResourceIdentifier("example.org")], excluded_subtrees=None
    )
    root = make_ca("URI NC Root", name_constraints=constraints)
    leaf = make_leaf(root, uris=("spiffe://example.org/a",))
    with pytest.raises(PolicyViolation, match="name constraint"):
        verify_client(leaf.cert, trust=TrustStore([root.cert]), now=NOW)


def test_ed25519_ca_fails_closed() -> None:
    """A chain signed by an Ed25519 CA is refused (cryptography's web-PKI algorithms)."""
    root = make_ca("Ed25519 Root", key=ed25519.Ed25519PrivateKey.generate())
    leaf = make_leaf(root)
    with pytest.raises(PolicyViolation, match="Forbidden"):
        verify_client(leaf.cert, trust=TrustStore([root.cert]), now=NOW)


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("validation failed: cert is not valid at validation time", CertificateExpired),
        ("validation failed: leaf certificate has no matching subjectAltName", NameMismatch),
        ("validation failed: required EKU not found", WrongUsage),
        (
            "validation failed: candidates exhausted: path length constraint violated",
            PolicyViolation,
        ),
        ("validation failed: ASN.1 parsing error: short data", MalformedCertificate),
        ("validation failed: candidates exhausted: signature does not match", UntrustedCertificate),
        ("validation failed: candidates exhausted: all candidates exhausted", UntrustedCertificate),
    ],
)
def test_error_mapping(message: str, cls: type[Exception]) -> None:
    """Cryptography's messages map onto the authcore class that names the failure."""
    err = _map_error(VerificationError(message + " (encountered processing <Certificate(...)>)"))
    assert type(err) is cls
    assert "encountered processing" not in err.reason


def _openssl_verify(
    tmp_path: Path,
    root: x509.Certificate,
    chain: list[x509.Certificate],
    when: dt.datetime,
    purpose: str,
) -> bool:
    (tmp_path / "root.pem").write_bytes(pem_of(root))
    (tmp_path / "leaf.pem").write_bytes(pem_of(chain[0]))
    args = [
        "openssl",
        "verify",
        "-attime",
        str(int(when.timestamp())),
        "-purpose",
        purpose,
        "-x509_strict",
    ]
    args += ["-CAfile", str(tmp_path / "root.pem")]
    if chain[1:]:
        (tmp_path / "inter.pem").write_bytes(pem_of(*chain[1:]))
        args += ["-untrusted", str(tmp_path / "inter.pem")]
    args.append(str(tmp_path / "leaf.pem"))
    return subprocess.run(args, capture_output=True, check=False).returncode == 0


def test_openssl_oracle_agrees(pki: PKI, tmp_path: Path) -> None:
    """On chains built here, verify_client and `openssl verify` agree."""
    other_inter = make_ca("Stray Intermediate", issuer=pki.other_root)
    expired_inter = make_ca("Expired Intermediate", issuer=pki.root, not_after=NOW - DAY)
    cases = [
        ([pki.client.cert, pki.inter.cert], NOW, True),
        ([pki.client.cert, pki.inter.cert], NOW + 40 * DAY, False),
        ([pki.client.cert], NOW, False),
        ([make_leaf(other_inter).cert, other_inter.cert], NOW, False),
        ([make_leaf(expired_inter).cert, expired_inter.cert], NOW, False),
        ([make_leaf(pki.root).cert], NOW, True),
        ([pki.server.cert, pki.inter.cert], NOW, False),  # serverAuth only, purpose sslclient
    ]
    for chain, when, expected in cases:
        assert _openssl_verify(tmp_path, pki.root.cert, chain, when, "sslclient") is expected
        try:
            verify_client(chain, trust=pki.trust, now=when)
            ours = True
        except (UntrustedCertificate, CertificateExpired, WrongUsage):
            ours = False
        assert ours is expected


def test_large_anchor_bundle_and_bad_single_input(pki: PKI) -> None:
    """A bundle larger than any chain loads; a bad single anchor input is a config error."""
    extra = [make_ca(f"Extra {i}").cert for i in range(70)]
    store = TrustStore.from_pem(pem_of(*extra, pki.root.cert))
    assert len(store.anchors) == 71
    verify_client([pki.client.cert, pki.inter.cert], trust=store, now=NOW)
    with pytest.raises(ConfigurationError):
        TrustStore(b"junk")
    with pytest.raises(ConfigurationError):
        TrustStore.from_der(b"\x30\x03\x02\x01\x01")


def test_zero_window_and_cache_bound(pki: PKI) -> None:
    """time_window=0 builds per distinct now; the verifier cache stays bounded."""
    trust = TrustStore([pki.root.cert], time_window=dt.timedelta(0))
    for seconds in range(70):
        verify_client(
            [pki.client.cert, pki.inter.cert], trust=trust, now=NOW + dt.timedelta(seconds=seconds)
        )
    assert len(trust._cache) == 64
    with pytest.raises(ConfigurationError):
        TrustStore([pki.root.cert], time_window=dt.timedelta(seconds=-1))


def test_relaxed_anchor_policy_still_needs_intermediate_key_usage() -> None:
    """With a keyUsage-less anchor in the store, intermediates still need keyUsage."""
    root = make_ca("No KU Root 2", key_usage=False)
    good = make_ca("Good Intermediate", issuer=root)
    bad = make_ca("KU-less Intermediate", issuer=root, key_usage=False)
    trust = TrustStore([root.cert])
    verify_client([make_leaf(good).cert, good.cert], trust=trust, now=NOW)
    with pytest.raises(WrongUsage, match="keyUsage"):
        verify_client([make_leaf(bad).cert, bad.cert], trust=trust, now=NOW)


def test_pinned_server_ip_and_trust_type(pki: PKI) -> None:
    """A pinned leaf matches IP names exactly; trust must be a TrustStore."""
    pinned = make_self_signed_leaf()
    trust = TrustStore(pinned=pinned.cert)
    assert trust.pinned == (pinned.cert,)
    with pytest.raises(NameMismatch):
        verify_server(pinned.cert, trust=trust, server_name="192.0.2.1", now=NOW)
    with pytest.raises(ConfigurationError):
        verify_client(pki.client.cert, trust=object(), now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        TrustStore(spiffe_bundles={"a.example": []})


def test_openssl_oracle_agrees_on_server_chains(pki: PKI, tmp_path: Path) -> None:
    """On server chains, verify_server and `openssl verify -purpose sslserver` agree."""
    cases = [
        ([pki.server.cert, pki.inter.cert], NOW, True),
        ([pki.server.cert, pki.inter.cert], NOW - 40 * DAY, False),
        ([pki.client.cert, pki.inter.cert], NOW, False),  # clientAuth only
        ([pki.server.cert], NOW, False),
    ]
    for chain, when, expected in cases:
        assert _openssl_verify(tmp_path, pki.root.cert, chain, when, "sslserver") is expected
        try:
            verify_server(chain, trust=pki.trust, server_name="api.example.com", now=when)
            ours = True
        except (UntrustedCertificate, CertificateExpired, WrongUsage, NameMismatch):
            ours = False
        assert ours is expected


def test_window_retry_finds_the_path_valid_at_exact_now(pki: PKI) -> None:
    """Two intermediates with one key: the one valid at the exact now is used, not the window's."""
    start = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    old = make_ca(
        "Rolled Intermediate", issuer=pki.root, key=key, not_after=start + dt.timedelta(minutes=5)
    )
    new = make_ca(
        "Rolled Intermediate", issuer=pki.root, key=key, not_before=start + dt.timedelta(minutes=10)
    )
    leaf = make_leaf(old)  # signed by the shared key, so either intermediate chains it
    trust = TrustStore([pki.root.cert], time_window=dt.timedelta(hours=1))
    ident = verify_client(
        [leaf.cert, old.cert, new.cert], trust=trust, now=start + dt.timedelta(minutes=11)
    )
    assert ident.chain[1] == new.cert
    with pytest.raises(CertificateExpired):
        verify_client([leaf.cert, old.cert], trust=trust, now=start + dt.timedelta(minutes=11))


# ------------------------------------------------------------------ require_key_identifiers


def _ki_chain(
    *, root_ski: bool = True, inter_ski: bool = True, inter_aki: bool = True
) -> tuple[list[x509.Certificate], TrustStore]:
    root = make_ca("KI Root", ski=root_ski)
    inter = make_ca("KI Intermediate", issuer=root, ski=inter_ski, aki=inter_aki)
    usages = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH)
    leaf = make_leaf(inter, dns=("leaf.example",), eku=usages)
    return [leaf.cert, inter.cert], TrustStore([root.cert])


_MISSING_KEY_IDS = {
    "intermediate-without-ski": ({"inter_ski": False}, r"chain\[1\] has no subjectKeyIdentifier"),
    "intermediate-without-aki": ({"inter_aki": False}, r"chain\[1\] has no authorityKeyIdentifier"),
    "anchor-without-ski": ({"root_ski": False}, r"chain\[2\] has no subjectKeyIdentifier"),
}


@pytest.mark.parametrize("case", sorted(_MISSING_KEY_IDS))
def test_missing_key_identifiers_pass_by_default(case: str) -> None:
    """Without require_key_identifiers, missing SKI/AKI on CAs is accepted (as cryptography)."""
    chain, trust = _ki_chain(**_MISSING_KEY_IDS[case][0])
    assert len(verify_client(chain, trust=trust, now=NOW).chain) == 3
    verify_server(chain, trust=trust, server_name="leaf.example", now=NOW)


@pytest.mark.parametrize("case", sorted(_MISSING_KEY_IDS))
def test_require_key_identifiers_refuses_missing_ones(case: str) -> None:
    """require_key_identifiers=True refuses a CA without SKI or an intermediate without AKI."""
    options, message = _MISSING_KEY_IDS[case]
    chain, trust = _ki_chain(**options)
    with pytest.raises(PolicyViolation, match=message):
        verify_client(chain, trust=trust, now=NOW, require_key_identifiers=True)
    with pytest.raises(PolicyViolation, match=message):
        verify_server(
            chain, trust=trust, server_name="leaf.example", now=NOW, require_key_identifiers=True
        )


def test_require_key_identifiers_accepts_a_complete_chain(pki: PKI) -> None:
    """A self-signed root needs no AKI; SKIs on CAs and AKIs below the anchor pass."""
    chain, trust = _ki_chain()
    assert len(verify_client(chain, trust=trust, now=NOW, require_key_identifiers=True).chain) == 3
    ident = verify_client(
        [pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW, require_key_identifiers=True
    )
    assert ident.certificate == pki.client.cert


def test_require_key_identifiers_does_not_check_a_pinned_leaf() -> None:
    """A pinned self-signed leaf is an input: it needs neither SKI nor AKI."""
    pinned = make_self_signed_leaf(dns=("pinned.example",))
    trust = TrustStore(pinned=[pinned.cert])
    ident = verify_client([pinned.cert], trust=trust, now=NOW, require_key_identifiers=True)
    assert ident.certificate == pinned.cert


def test_remembered_facts_are_bounded(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-certificate memory (by identity and by DER) stays within its bounds."""
    monkeypatch.setattr("authcore.mtls._chain._IDENTITY_CACHE_SIZE", 4)
    monkeypatch.setattr("authcore.mtls._chain._POLICY_CACHE_SIZE", 5)
    trust = TrustStore([pki.root.cert])
    for i in range(12):
        leaf = make_leaf(pki.inter, dns=(f"c{i}.example",))
        ident = verify_client([leaf.cert, pki.inter.cert], trust=trust, now=NOW)
        assert ident.dns_names == (f"c{i}.example",)  # never another leaf's fields
        assert len(trust._by_id) <= 4
        assert len(trust._by_der) <= 5


def test_facts_are_found_by_identity_then_by_der(pki: PKI) -> None:
    """A new object with the same DER shares the facts; an identity entry holds its object."""
    trust = TrustStore([pki.root.cert])
    verify_client([pki.client.cert, pki.inter.cert], trust=trust, now=NOW)
    copy = x509.load_der_x509_certificate(pki.client.der)
    assert copy is not pki.client.cert
    assert trust._facts(copy) is trust._facts(pki.client.cert)
    held, _ = trust._by_id[id(copy)]
    assert held is copy
    ident = verify_client([copy, pki.inter.cert], trust=trust, now=NOW)
    assert ident.chain[0] is copy
    assert ident.thumbprint == thumbprint(pki.client.cert)


def test_remembered_checks_never_vouch_for_another_certificate(pki: PKI) -> None:
    """What passed for one leaf (EKU, validity, policy) is not carried to another one."""
    trust = TrustStore([pki.root.cert])
    verify_client([pki.client.cert, pki.inter.cert], trust=trust, now=NOW)
    with pytest.raises(WrongUsage):
        verify_client([pki.server.cert, pki.inter.cert], trust=trust, now=NOW)
    expired = make_leaf(pki.inter, not_after=NOW - DAY)
    with pytest.raises(CertificateExpired):
        verify_client([expired.cert, pki.inter.cert], trust=trust, now=NOW)
    weak = make_leaf(pki.inter, key=ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(PolicyViolation):
        verify_client([weak.cert, pki.inter.cert], trust=trust, now=NOW)
    # The same leaf, once accepted, is refused when the time moves past its validity.
    with pytest.raises(CertificateExpired):
        verify_client([pki.client.cert, pki.inter.cert], trust=trust, now=NOW + 40 * DAY)


@pytest.mark.parametrize("window", [dt.timedelta(0), dt.timedelta(hours=1)])
def test_validity_has_one_second_granularity_when_remembered(
    pki: PKI, window: dt.timedelta
) -> None:
    """notBefore/notAfter hold for their whole second, also on the remembered fast check."""
    bound = dt.datetime(2025, 6, 1, 12, 30, tzinfo=UTC)
    late = make_leaf(pki.inter, not_before=bound)
    early = make_leaf(pki.inter, not_after=bound)
    trust = TrustStore([pki.root.cert], time_window=window)
    tick = dt.timedelta(microseconds=1)
    second = dt.timedelta(seconds=1)
    for _ in range(2):  # the first round learns the facts, the second uses them
        verify_client([late.cert, pki.inter.cert], trust=trust, now=bound)
        with pytest.raises(CertificateExpired):
            verify_client([late.cert, pki.inter.cert], trust=trust, now=bound - tick)
        verify_client([early.cert, pki.inter.cert], trust=trust, now=bound + second - tick)
        with pytest.raises(CertificateExpired):
            verify_client([early.cert, pki.inter.cert], trust=trust, now=bound + second)


def test_known_objects_skip_loading_but_others_are_checked(pki: PKI) -> None:
    """Objects the store has checked skip the parse check; any other input is still loaded."""
    trust = TrustStore([pki.root.cert])
    verify_client([pki.client.cert, pki.inter.cert], trust=trust, now=NOW)
    cn = b"\x0c\x08client-1"
    bad = x509.load_der_x509_certificate(pki.client.der.replace(cn, b"\x0c\x08\xff\xfeient-1"))
    with pytest.raises(MalformedCertificate):
        verify_client([bad, pki.inter.cert], trust=trust, now=NOW)
    with pytest.raises(MalformedCertificate):
        verify_client([pki.client.cert, pki.inter.cert, *[pki.inter.cert] * 64], trust=trust)
    with pytest.raises(MalformedCertificate):
        verify_client([], trust=trust, now=NOW)
    ident = verify_client((pki.client.cert, pki.inter.cert), trust=trust, now=NOW)
    assert ident.chain == (pki.client.cert, pki.inter.cert, pki.root.cert)


def test_client_identity_built_in_place_is_a_complete_frozen_client_identity(pki: PKI) -> None:
    """verify_client's result fills every ClientIdentity field and stays frozen."""
    fields = {f.name for f in dataclasses.fields(ClientIdentity)}
    fast = verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW)
    built = ClientIdentity(**{name: getattr(fast, name) for name in fields})
    assert type(fast) is ClientIdentity
    assert fast == built
    assert repr(fast) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.thumbprint = "other"  # type: ignore[misc]
