"""A minimal certificate issuer for ``authcore bench`` and the test suites; not used to verify.

The benchmark suite ships with authcore and needs a chain to verify, so certificate issuing
cannot live only under ``tests/``; the tests build their PKIs on these two functions instead of
on a copy.  Everything here is for throwaway test PKIs: callers choose serials, validity and
extensions, and nothing is checked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["PrivateKey", "TestPKI", "digest_for", "issue", "key_usage", "make_test_pki"]

PrivateKey = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | dsa.DSAPrivateKey | ed25519.Ed25519PrivateKey
)


def digest_for(key: PrivateKey) -> hashes.SHA256 | None:
    """Return the signing digest for ``key``: none for Ed25519, SHA-256 otherwise."""
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def key_usage(*, key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    """Return keyUsage with digitalSignature and, as asked, keyCertSign and cRLSign."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    common_name: str,
    key: PrivateKey,
    *,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
    authority_key_identifier: bool = True,
) -> x509.Certificate:
    """Sign a certificate for ``common_name`` and ``key``.

    Args:
        common_name: The subject's only attribute.
        key: The subject's private key (its public half is certified).
        issuer: The issuing certificate and key; the certificate then carries the issuer's
            authorityKeyIdentifier.  ``None``: self-signed, without authorityKeyIdentifier.
        serial: The serial number.
        not_before: Start of validity.
        not_after: End of validity.
        extensions: Further extensions with their criticality, in order.
        authority_key_identifier: ``False`` leaves out the issuer's authorityKeyIdentifier.

    Returns:
        The signed certificate (SHA-256, or no digest for Ed25519 signers).
    """
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    signer = issuer[1] if issuer else key
    if issuer and authority_key_identifier:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, digest_for(signer))


class TestPKI:
    """A throwaway root, intermediate, server and client PKI (``authcore mtls testpki``).

    Attributes:
        files: File name -> PEM bytes: ``root.pem`` (the trust anchor), ``intermediate.pem``,
            ``server.pem`` and ``client.pem`` (each leaf followed by the intermediate, as a TLS
            peer sends it), ``server.key`` and ``client.key`` (PKCS#8, unencrypted).  The root
            and intermediate keys are discarded: nothing more can be issued under this root.
        private: The names of the files holding private keys.
    """

    __test__ = False  # not a pytest class
    private = frozenset({"server.key", "client.key"})

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files


def make_test_pki(
    *,
    dns_names: Sequence[str],
    client_dns_names: Sequence[str],
    spiffe_id: str | None,
    now: dt.datetime,
    days: int,
) -> TestPKI:
    """Issue a throwaway P-256 PKI for local mTLS development (like mkcert, never for production).

    The server certificate carries ``dns_names`` (and ``127.0.0.1``/``::1`` when
    ``localhost`` is among them) with serverAuth; the client certificate carries
    ``client_dns_names`` and the SPIFFE ID as URI SANs, with clientAuth.  Both leaves are valid
    from one hour before ``now`` for ``days`` days; the CAs for one day longer.
    """
    start = now - dt.timedelta(hours=1)
    ca_end = now + dt.timedelta(days=days + 1)
    leaf_end = now + dt.timedelta(days=days)

    def ca_extensions(
        key: PrivateKey, path_length: int | None
    ) -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (x509.BasicConstraints(ca=True, path_length=path_length), True),
            (key_usage(key_cert_sign=True, crl_sign=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        ]

    def leaf_extensions(
        key: PrivateKey, names: list[x509.GeneralName], usage: x509.ObjectIdentifier
    ) -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (key_usage(), True),
            (x509.ExtendedKeyUsage([usage]), False),
            (x509.SubjectAlternativeName(names), not names),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        ]

    def serial() -> int:
        return secrets.randbits(63) + 1

    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    root_key, inter_key, server_key, client_key = keys
    root = issue(
        "authcore test root (throwaway)",
        root_key,
        serial=serial(),
        not_before=start,
        not_after=ca_end,
        extensions=ca_extensions(root_key, 1),
    )
    inter = issue(
        "authcore test intermediate (throwaway)",
        inter_key,
        issuer=(root, root_key),
        serial=serial(),
        not_before=start,
        not_after=ca_end,
        extensions=ca_extensions(inter_key, 0),
    )
    server_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    if "localhost" in dns_names:
        server_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1")]
    client_names: list[x509.GeneralName] = [x509.DNSName(name) for name in client_dns_names]
    if spiffe_id is not None:
        client_names.append(x509.UniformResourceIdentifier(spiffe_id))
    server = issue(
        dns_names[0] if dns_names else "server",
        server_key,
        issuer=(inter, inter_key),
        serial=serial(),
        not_before=start,
        not_after=leaf_end,
        extensions=leaf_extensions(server_key, server_names, ExtendedKeyUsageOID.SERVER_AUTH),
    )
    client = issue(
        spiffe_id or (client_dns_names[0] if client_dns_names else "client"),
        client_key,
        issuer=(inter, inter_key),
        serial=serial(),
        not_before=start,
        not_after=leaf_end,
        extensions=leaf_extensions(client_key, client_names, ExtendedKeyUsageOID.CLIENT_AUTH),
    )

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: PrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    return TestPKI(
        {
            "root.pem": pem(root),
            "intermediate.pem": pem(inter),
            "server.pem": pem(server) + pem(inter),
            "server.key": key_pem(server_key),
            "client.pem": pem(client) + pem(inter),
            "client.key": key_pem(client_key),
        }
    )
