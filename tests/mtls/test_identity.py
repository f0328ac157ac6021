"""SPIFFE IDs and X.509-SVIDs, RFC 8705 thumbprints, binding and tls_client_auth matching."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from authcore.errors import (
    BindingMismatch,
    ConfigurationError,
    NameMismatch,
    PolicyViolation,
    UntrustedCertificate,
    WrongUsage,
)
from authcore.mtls import (
    SpiffeId,
    TlsClientAuth,
    TrustStore,
    check_binding,
    thumbprint,
    verify_client,
    verify_server,
)
from tests.mtls._pki import NOW, make_ca, make_leaf

if TYPE_CHECKING:
    from tests.mtls.conftest import PKI


@pytest.mark.parametrize(
    ("text", "domain", "path"),
    [
        ("spiffe://example.org/ns/prod/sa/api", "example.org", "/ns/prod/sa/api"),
        ("spiffe://example.org", "example.org", ""),
        ("spiffe://a-b_c.1/X.y-Z_9", "a-b_c.1", "/X.y-Z_9"),
    ],
)
def test_spiffe_id_parse_valid(text: str, domain: str, path: str) -> None:
    """Valid SPIFFE IDs parse into trust domain and path and print back unchanged."""
    parsed = SpiffeId.parse(text)
    assert (parsed.trust_domain, parsed.path) == (domain, path)
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "SPIFFE://example.org/a",
        "spiffe://Example.org/a",
        "spiffe:///a",
        "spiffe://example.org/",
        "spiffe://example.org//a",
        "spiffe://example.org/a/./b",
        "spiffe://example.org/a/../b",
        "spiffe://example.org:8080/a",
        "spiffe://user@example.org/a",
        "spiffe://example.org/a?x=1",
        "spiffe://example.org/a#f",
        "spiffe://example.org/a%20b",
        "https://example.org/a",
        "spiffe://example.org/" + "a" * 2100,
    ],
)
def test_spiffe_id_parse_invalid(text: str) -> None:
    """IDs breaking the SPIFFE grammar raise NameMismatch."""
    with pytest.raises(NameMismatch):
        SpiffeId.parse(text)


_SEGMENT = st.text(alphabet="abcXYZ019.-_", min_size=1, max_size=8).filter(
    lambda s: s not in {".", ".."}
)


@given(
    domain=st.text(alphabet="abc019.-_", min_size=1, max_size=20),
    segments=st.lists(_SEGMENT, max_size=5),
)
def test_spiffe_id_round_trip(domain: str, segments: list[str]) -> None:
    """Every ID built from the grammar parses and prints back unchanged."""
    text = "spiffe://" + domain + "".join("/" + s for s in segments)
    assert str(SpiffeId.parse(text)) == text


@given(st.text(max_size=60))
def test_spiffe_id_parse_never_raises_untyped(text: str) -> None:
    """Arbitrary text either parses or raises NameMismatch."""
    try:
        SpiffeId.parse(text)
    except NameMismatch:
        pass


@pytest.fixture(scope="module")
def domains() -> tuple[TrustStore, dict[str, object]]:
    ca_a = make_ca("Domain A CA")
    ca_b = make_ca("Domain B CA")
    trust = TrustStore(spiffe_bundles={"a.example": [ca_a.cert], "b.example": [ca_b.cert]})
    return trust, {"a": ca_a, "b": ca_b}


def test_svid_verified_against_its_domain(domains: tuple[TrustStore, dict[str, object]]) -> None:
    """An SVID verifies against its own trust domain's bundle and carries its SPIFFE ID."""
    trust, cas = domains
    svid = make_leaf(cas["a"], dns=(), uris=("spiffe://a.example/workload",))  # type: ignore[arg-type]
    ident = verify_client(svid.cert, trust=trust, now=NOW, require_spiffe=True)
    assert ident.spiffe_id == SpiffeId(trust_domain="a.example", path="/workload")
    assert trust.trust_domains == ("a.example", "b.example")


def test_svid_from_another_domains_ca_is_untrusted(
    domains: tuple[TrustStore, dict[str, object]],
) -> None:
    """Domain A's CA cannot issue an SVID for domain B."""
    trust, cas = domains
    svid = make_leaf(cas["a"], dns=(), uris=("spiffe://b.example/workload",))  # type: ignore[arg-type]
    with pytest.raises(UntrustedCertificate):
        verify_client(svid.cert, trust=trust, now=NOW)


def test_svid_of_unknown_domain_is_untrusted(domains: tuple[TrustStore, dict[str, object]]) -> None:
    """An SVID whose trust domain has no bundle is UntrustedCertificate."""
    trust, cas = domains
    svid = make_leaf(cas["a"], dns=(), uris=("spiffe://c.example/w",))  # type: ignore[arg-type]
    with pytest.raises(UntrustedCertificate, match=r"c\.example"):
        verify_client(svid.cert, trust=trust, now=NOW)


def test_svid_with_two_uris_is_refused(domains: tuple[TrustStore, dict[str, object]]) -> None:
    """Two URI SANs break the SVID rules (cryptography alone would accept them)."""
    trust, cas = domains
    svid = make_leaf(cas["a"], dns=(), uris=("spiffe://a.example/w", "spiffe://a.example/x"))  # type: ignore[arg-type]
    with pytest.raises(PolicyViolation, match="exactly one URI"):
        verify_client(svid.cert, trust=trust, now=NOW)


def test_svid_without_path_is_refused(domains: tuple[TrustStore, dict[str, object]]) -> None:
    """An SVID must carry a workload path."""
    trust, cas = domains
    svid = make_leaf(cas["a"], dns=(), uris=("spiffe://a.example",))  # type: ignore[arg-type]
    with pytest.raises(NameMismatch, match="non-empty path"):
        verify_client(svid.cert, trust=trust, now=NOW)


def test_svid_ca_leaf_and_cert_sign_are_refused(
    domains: tuple[TrustStore, dict[str, object]],
) -> None:
    """An SVID leaf that is a CA or asserts keyCertSign is refused."""
    trust, cas = domains
    ca_leaf = make_leaf(cas["a"], dns=(), uris=("spiffe://a.example/w",), ca=True)  # type: ignore[arg-type]
    with pytest.raises(PolicyViolation, match="must not be a CA"):
        verify_client(ca_leaf.cert, trust=trust, now=NOW)
    signer = make_leaf(cas["a"], dns=(), uris=("spiffe://a.example/w",), key_cert_sign=True)  # type: ignore[arg-type]
    with pytest.raises(WrongUsage, match="keyCertSign"):
        verify_client(signer.cert, trust=trust, now=NOW)


def test_require_spiffe_refuses_plain_certificates(pki: PKI) -> None:
    """require_spiffe=True refuses a certificate verified against plain anchors."""
    with pytest.raises(PolicyViolation):
        verify_client(
            [pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW, require_spiffe=True
        )


def test_plain_anchor_never_yields_spiffe_id(pki: PKI) -> None:
    """A spiffe:// URI verified against plain anchors gives no spiffe_id."""
    leaf = make_leaf(pki.inter, uris=("spiffe://a.example/w",))
    ident = verify_client([leaf.cert, pki.inter.cert], trust=pki.trust, now=NOW)
    assert ident.spiffe_id is None
    assert ident.uris == ("spiffe://a.example/w",)


def test_thumbprint_is_sha256_of_der(pki: PKI) -> None:
    """x5t#S256 is base64url without padding of SHA-256 over the DER."""
    der = pki.client.cert.public_bytes(serialization.Encoding.DER)
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert thumbprint(pki.client.cert) == expected
    assert len(expected) == 43


def test_check_binding(pki: PKI) -> None:
    """check_binding accepts the bound certificate and refuses others or missing cnf."""
    cnf = {"x5t#S256": thumbprint(pki.client.cert)}
    assert check_binding(cnf, pki.client.cert) == cnf["x5t#S256"]
    ident = verify_client([pki.client.cert, pki.inter.cert], trust=pki.trust, now=NOW)
    assert check_binding(cnf, ident) == cnf["x5t#S256"]
    with pytest.raises(BindingMismatch):
        check_binding(cnf, pki.server.cert)
    bads: list[object] = [{}, {"x5t#S256": 5}, {"jkt": "abc"}, {"x5t#S256": "é"}, []]
    for bad in bads:
        with pytest.raises(BindingMismatch):
            check_binding(bad, pki.client.cert)  # type: ignore[arg-type]


def test_tls_client_auth_metadata_needs_exactly_one() -> None:
    """Zero or two tls_client_auth parameters are a configuration error."""
    with pytest.raises(ConfigurationError):
        TlsClientAuth.from_metadata({})
    with pytest.raises(ConfigurationError):
        TlsClientAuth.from_metadata(
            {"tls_client_auth_san_dns": "a.example", "tls_client_auth_san_uri": "https://a"}
        )
    with pytest.raises(ConfigurationError):
        TlsClientAuth.from_metadata({"tls_client_auth_san_ip": "not an ip"})
    with pytest.raises(ConfigurationError):
        TlsClientAuth.from_metadata({"tls_client_auth_subject_dn": "garbage"})


@pytest.mark.parametrize(
    ("metadata", "matches"),
    [
        ({"tls_client_auth_subject_dn": "CN=client-1"}, True),
        ({"tls_client_auth_subject_dn": "cn=Client-1"}, True),
        ({"tls_client_auth_subject_dn": "CN=client-2"}, False),
        ({"tls_client_auth_subject_dn": "CN=client-1,O=Org"}, False),
        ({"tls_client_auth_san_dns": "CLIENT.example"}, True),
        ({"tls_client_auth_san_dns": "other.example"}, False),
        ({"tls_client_auth_san_uri": "https://client.example/id"}, True),
        ({"tls_client_auth_san_uri": "https://client.example/ID"}, False),
        ({"tls_client_auth_san_ip": "192.0.2.7"}, True),
        ({"tls_client_auth_san_ip": "192.0.2.8"}, False),
        ({"tls_client_auth_san_email": "ops@EXAMPLE.com"}, True),
        ({"tls_client_auth_san_email": "OPS@example.com"}, False),
    ],
)
def test_tls_client_auth_matching(pki: PKI, metadata: dict[str, str], matches: bool) -> None:
    """Each RFC 8705 parameter matches its certificate field with the documented rule."""
    rule = TlsClientAuth.from_metadata(metadata)
    if matches:
        assert rule.match(pki.client.cert) == next(iter(metadata))
    else:
        with pytest.raises(NameMismatch):
            rule.match(pki.client.cert)


def test_tls_client_auth_ipv6_by_value(pki: PKI) -> None:
    """IPv6 addresses compare by value, not by text."""
    ident = verify_server(
        [pki.server.cert, pki.inter.cert], trust=pki.trust, server_name="api.example.com", now=NOW
    )
    TlsClientAuth(parameter="tls_client_auth_san_ip", value="2001:DB8:0:0::1").match(
        ident.certificate
    )
