"""A minimal certificate issuer for ``authcore bench`` and the test suites; not used to verify.

The benchmark suite ships with authcore and needs a chain to verify, so certificate issuing
cannot live only under ``tests/``; the tests build their PKIs on these two functions instead of
on a copy.  Everything here is for throwaway test PKIs: callers choose serials, validity and
extensions, and nothing is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

__all__ = ["PrivateKey", "digest_for", "issue", "key_usage"]

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
