"""Loading chains from PEM, DER, ASGI scopes and forwarded-certificate headers."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import urllib.parse
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    MalformedCertificate,
    MalformedHeader,
)
from authcore.http import Headers
from authcore.mtls import (
    TlsClientAuth,
    TrustStore,
    chain_from_asgi,
    chain_from_headers,
    load_certificate,
    load_chain,
    load_crl,
    verify_client,
)
from authcore.mtls._load import MAX_CHAIN_LENGTH, MAX_PEM_BYTES
from tests.mtls._pki import NOW, pem_of

if TYPE_CHECKING:
    from tests.mtls.conftest import PKI


def test_asgi_tls_extension(pki: PKI) -> None:
    """The ASGI TLS extension's PEM strings load as the chain, leaf first."""
    scope = {
        "type": "http",
        "extensions": {
            "tls": {"client_cert_chain": [pki.client.pem.decode(), pki.inter.pem.decode()]}
        },
    }
    chain = chain_from_asgi(scope)
    assert chain == (pki.client.cert, pki.inter.cert)
    verify_client(chain, trust=pki.trust, now=NOW)


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"extensions": {}},
        {"extensions": {"tls": {}}},
        {"extensions": {"tls": {"client_cert_chain": []}}},
        {"extensions": {"tls": {"client_cert_chain": "PEM"}}},
        {"extensions": {"tls": {"client_cert_chain": [b"bytes"]}}},
    ],
)
def test_asgi_without_client_cert(scope: dict[str, object]) -> None:
    """A scope without a usable client chain is MalformedCertificate."""
    with pytest.raises(MalformedCertificate):
        chain_from_asgi(scope)


def test_forwarded_header_needs_explicit_trust(pki: PKI) -> None:
    """Forwarded certificates are refused unless trust_forwarded=True is passed."""
    headers = {"x-forwarded-client-cert": urllib.parse.quote(pki.client.pem.decode())}
    with pytest.raises(ConfigurationError, match="spoofable"):
        chain_from_headers(headers, trust_forwarded=False)


def test_bare_url_encoded_pem_header(pki: PKI) -> None:
    """A URL-encoded PEM header (nginx $ssl_client_escaped_cert) loads."""
    headers = Headers([("X-SSL-Client-Cert", urllib.parse.quote(pki.client.pem.decode()))])
    chain = chain_from_headers(headers, trust_forwarded=True, header="x-ssl-client-cert")
    assert chain == (pki.client.cert,)


def test_xfcc_last_element_cert_and_chain(pki: PKI) -> None:
    """Envoy XFCC: the last element's Chain is used and must start with its Cert."""
    cert = urllib.parse.quote(pki.client.pem.decode())
    chain = urllib.parse.quote(pem_of(pki.client.cert, pki.inter.cert).decode())
    other = urllib.parse.quote(pki.server.pem.decode())
    value = (
        f'By=spiffe://a/b;Hash=abc;Cert="{other}";Subject="CN=x, O=y",'
        f'By=spiffe://a/c;Hash=def;Cert="{cert}";Chain="{chain}";URI=spiffe://a/d'
    )
    loaded = chain_from_headers({"x-forwarded-client-cert": value}, trust_forwarded=True)
    assert loaded == (pki.client.cert, pki.inter.cert)
    verify_client(loaded, trust=pki.trust, now=NOW)
    mismatch = f'Cert="{other}";Chain="{chain}"'
    with pytest.raises(MalformedCertificate, match="differs"):
        chain_from_headers({"x-forwarded-client-cert": mismatch}, trust_forwarded=True)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", MalformedCertificate),
        ("Hash=abc", MalformedCertificate),
        ('Cert="unterminated', MalformedHeader),
        ("Cert", MalformedHeader),
        ("Cert=a;Cert=b", MalformedHeader),
        ('Cert="x"junk', MalformedHeader),
        ("Cert=%FF%FE", MalformedCertificate),
    ],
)
def test_bad_xfcc(value: str, error: type[Exception]) -> None:
    """Broken XFCC values raise typed errors."""
    with pytest.raises(error):
        chain_from_headers({"x-forwarded-client-cert": value}, trust_forwarded=True)


def test_repeated_header_is_refused(pki: PKI) -> None:
    """A repeated forwarded-certificate header is MalformedHeader."""
    pem = urllib.parse.quote(pki.client.pem.decode())
    headers = Headers(
        [("X-Forwarded-Client-Cert", f"Cert={pem}"), ("X-Forwarded-Client-Cert", f"Cert={pem}")]
    )
    with pytest.raises(MalformedHeader):
        chain_from_headers(headers, trust_forwarded=True)


def test_size_and_length_caps(pki: PKI) -> None:
    """Inputs over the byte cap and chains over the length cap are refused."""
    with pytest.raises(MalformedCertificate, match="larger"):
        load_chain(b"-" * (MAX_PEM_BYTES + 1))
    with pytest.raises(MalformedCertificate, match="longer"):
        load_chain([pki.client.cert] * (MAX_CHAIN_LENGTH + 1))
    with pytest.raises(MalformedCertificate, match="one certificate"):
        load_certificate(pem_of(pki.client.cert, pki.inter.cert))
    with pytest.raises(MalformedCertificate):
        load_chain("caf\u00e9")
    with pytest.raises(MalformedCertificate):
        load_crl(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    with pytest.raises(MalformedCertificate):
        load_crl(42)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input_only_raises_authcore_errors(data: bytes | str) -> None:
    """Arbitrary bytes or text never escape as anything but an AuthcoreError."""
    try:
        load_chain(data)
    except AuthcoreError:
        pass


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_random_xfcc_only_raises_authcore_errors(value: str) -> None:
    """Arbitrary XFCC header text never escapes as anything but an AuthcoreError."""
    try:
        chain_from_headers({"x-forwarded-client-cert": value}, trust_forwarded=True)
    except AuthcoreError:
        pass


@settings(max_examples=100)
@given(noise=st.binary(min_size=1, max_size=64))
def test_corrupted_der_only_raises_authcore_errors(pki: PKI, noise: bytes) -> None:
    """A certificate with bytes overwritten is refused with a typed error, never a crash."""
    der = bytearray(pki.client.der)
    offset = noise[0] % len(der)
    der[offset : offset + len(noise) - 1] = noise[1:]
    try:
        verify_client([bytes(der), pki.inter.der], trust=pki.trust, now=NOW)
    except AuthcoreError:
        pass


@pytest.mark.parametrize("encoding", ["der", "pem"])
def test_invalid_x509_version_is_malformed(pki: PKI, encoding: str) -> None:
    """A certificate whose version field is 1 (v2, which cryptography refuses) is malformed.

    cryptography raises ``x509.InvalidVersion`` here, which is not a ``ValueError``; found by
    the corrupted-DER property test.
    """
    der = pki.client.der
    version_v3 = b"\xa0\x03\x02\x01\x02"
    assert der.count(version_v3) == 1
    tampered = der.replace(version_v3, b"\xa0\x03\x02\x01\x01")
    pem = b"-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % base64.encodebytes(
        tampered
    )
    data = tampered if encoding == "der" else pem
    with pytest.raises(MalformedCertificate, match="chain\\[0\\]"):
        verify_client([data, pki.inter.der], trust=pki.trust, now=NOW)


def test_invalid_crl_version_is_malformed(pki: PKI) -> None:
    """A CRL whose version field is 5 is malformed (cryptography's InvalidVersion is wrapped)."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.root.cert.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .sign(pki.root.key, hashes.SHA256())
    )
    der = crl.public_bytes(serialization.Encoding.DER)
    version_v2 = b"\x02\x01\x01"
    assert der.find(version_v2) == 5
    with pytest.raises(MalformedCertificate, match="not a valid CRL"):
        load_crl(der[:5] + b"\x02\x01\x05" + der[8:])


@settings(max_examples=100)
@given(noise=st.binary(min_size=1, max_size=16))
def test_corrupted_crl_only_raises_authcore_errors(pki: PKI, noise: bytes) -> None:
    """A CRL with bytes overwritten loads or is refused with a typed error, never a crash."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.root.cert.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .sign(pki.root.key, hashes.SHA256())
    )
    der = bytearray(crl.public_bytes(serialization.Encoding.DER))
    offset = noise[0] % len(der)
    der[offset : offset + len(noise) - 1] = noise[1:]
    try:
        load_crl(bytes(der))
    except AuthcoreError:
        pass


# ------------------------------------------------------------ typed errors at the boundary


@pytest.mark.parametrize(
    "value",
    [
        # the bare-PEM form (nginx $ssl_client_escaped_cert)
        "%2D%2D%FF",
        "%2d%2d%ff",
        "%2D%2D%C3%28",
        "%2D%2D%",
        "%2D%2D%zz",
        "-----BEGIN CERTIFICATE-----%FF",
        "%2D%2D\ud800",
        "%2D%2D-BEGIN CERTIFICATE-----",
        # XFCC Cert / Chain values
        "Cert=%FF",
        "Cert=%",
        "Cert=%4",
        'Cert="%ED%A0%80"',
        "Cert=hello",
        "Cert=\ud800",
        "Chain=%2D%2D%FF",
    ],
)
def test_forwarded_certificate_with_bad_escapes_is_typed(value: str) -> None:
    """Bad escapes, non-UTF-8 octets or no PEM in a forwarded certificate: MalformedCertificate."""
    with pytest.raises(MalformedCertificate):
        chain_from_headers({"x-forwarded-client-cert": value}, trust_forwarded=True)


def test_xfcc_cert_beside_chain_is_decoded_strictly(pki: PKI) -> None:
    """A Cert beside a valid Chain is decoded strictly too (bad octets are not replaced)."""
    chain = urllib.parse.quote(pem_of(pki.client.cert, pki.inter.cert).decode())
    with pytest.raises(MalformedCertificate):
        chain_from_headers(
            {"x-forwarded-client-cert": f'Cert="%FF";Chain="{chain}"'}, trust_forwarded=True
        )


def test_forwarded_header_argument_types_are_configuration_errors() -> None:
    """Headers that are not a mapping or a header name that is not text are ConfigurationError."""
    with pytest.raises(ConfigurationError):
        chain_from_headers([("x-forwarded-client-cert", "x")], trust_forwarded=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        chain_from_headers({}, trust_forwarded=True, header=1)  # type: ignore[arg-type]


def test_asgi_scope_that_is_not_a_mapping_is_a_configuration_error() -> None:
    """chain_from_asgi(None) is ConfigurationError, not AttributeError."""
    with pytest.raises(ConfigurationError):
        chain_from_asgi(None)  # type: ignore[arg-type]


def test_asgi_chain_longer_than_the_cap_is_refused(pki: PKI) -> None:
    """An ASGI chain longer than MAX_CHAIN_LENGTH is refused without reading all of it."""
    pem = pki.client.pem.decode()
    endless = itertools.repeat(pem)  # never ends: only the cap stops it
    scope = {"extensions": {"tls": {"client_cert_chain": endless}}}
    with pytest.raises(MalformedCertificate, match="longer"):
        chain_from_asgi(scope)


def _lazily_malformed(pki: PKI) -> x509.Certificate:
    """The client certificate with a subject CN that is not UTF-8, loaded lazily."""
    cn = b"\x0c\x08client-1"
    assert pki.client.der.count(cn) == 1
    return x509.load_der_x509_certificate(pki.client.der.replace(cn, b"\x0c\x08\xff\xfeient-1"))


def test_lazily_malformed_certificate_objects_are_typed(pki: PKI) -> None:
    """A certificate object whose subject parses only on access fails typed, everywhere."""
    cert = _lazily_malformed(pki)
    with pytest.raises(MalformedCertificate):
        verify_client([cert, pki.inter.cert], trust=pki.trust, now=NOW)
    with pytest.raises(MalformedCertificate):
        load_chain([cert])
    with pytest.raises(MalformedCertificate):
        TlsClientAuth(parameter="tls_client_auth_subject_dn", value="CN=client-1").match(cert)
    with pytest.raises(ConfigurationError):
        TrustStore([cert])


def test_xfcc_syntax_errors_name_the_header_read() -> None:
    """An XFCC syntax error names the header it was read from, not always XFCC's name."""
    with pytest.raises(MalformedHeader, match="x-client-cert: XFCC pair without '='"):
        chain_from_headers({"x-client-cert": "Cert"}, trust_forwarded=True, header="x-client-cert")
