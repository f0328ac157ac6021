"""A small PKI for the mTLS tests: CAs, leaves, CRLs, OCSP responses.

Certificates are issued by :mod:`authcore.mtls._testpki`, which the benchmark suite uses too.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authcore.mtls._testpki import PrivateKey, digest_for, issue
from authcore.mtls._testpki import key_usage as ku

if TYPE_CHECKING:
    from collections.abc import Sequence

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)

_SERIAL = [1000]


def _next_serial() -> int:
    _SERIAL[0] += 1
    return _SERIAL[0]


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _issue(
    cn: str,
    key: PrivateKey,
    issuer: Issued | None,
    validity: tuple[dt.datetime, dt.datetime],
    extensions: list[tuple[x509.ExtensionType, bool]],
    *,
    aki: bool = True,
) -> Issued:
    cert = issue(
        cn,
        key,
        issuer=None if issuer is None else (issuer.cert, issuer.key),
        serial=_next_serial(),
        not_before=validity[0],
        not_after=validity[1],
        extensions=extensions,
        authority_key_identifier=aki,
    )
    return Issued(cert=cert, key=key)


def make_ca(
    cn: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    path_length: int | None = None,
    key_usage: bool = True,
    crl_sign: bool = True,
    not_before: dt.datetime = NOW - 365 * DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
    name_constraints: x509.NameConstraints | None = None,
    ski: bool = True,
    aki: bool = True,
) -> Issued:
    key = key or ec_key()
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=path_length), True)
    ]
    if ski:
        extensions.append((x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
    if key_usage:
        extensions.append((ku(key_cert_sign=True, crl_sign=crl_sign), True))
    if name_constraints is not None:
        extensions.append((name_constraints, True))
    return _issue(cn, key, issuer, (not_before, not_after), extensions, aki=aki)


def make_leaf(
    issuer: Issued,
    *,
    cn: str = "leaf",
    dns: Sequence[str] = ("leaf.example",),
    ips: Sequence[str] = (),
    uris: Sequence[str] = (),
    emails: Sequence[str] = (),
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    key: PrivateKey | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 30 * DAY,
    ca: bool = False,
    key_cert_sign: bool = False,
    crl_urls: Sequence[str] = (),
    ocsp_urls: Sequence[str] = (),
) -> Issued:
    key = key or ec_key()
    extensions: list[tuple[x509.ExtensionType, bool]] = [(ku(key_cert_sign=key_cert_sign), True)]
    general: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    general += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    general += [x509.UniformResourceIdentifier(u) for u in uris]
    general += [x509.RFC822Name(e) for e in emails]
    if general:
        extensions.append((x509.SubjectAlternativeName(general), False))
    if eku is not None:
        extensions.append((x509.ExtendedKeyUsage(list(eku)), False))
    if ca:
        extensions.append((x509.BasicConstraints(ca=True, path_length=None), True))
    if crl_urls:
        points = [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(u)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            for u in crl_urls
        ]
        extensions.append((x509.CRLDistributionPoints(points), False))
    if ocsp_urls:
        access = [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
            )
            for u in ocsp_urls
        ]
        extensions.append((x509.AuthorityInformationAccess(access), False))
    return _issue(cn, key, issuer, (not_before, not_after), extensions)


def make_self_signed_leaf(cn: str = "pinned", *, dns: Sequence[str] = ()) -> Issued:
    key = ec_key()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    extensions: list[tuple[x509.ExtensionType, bool]] = [(x509.ExtendedKeyUsage(usages), False)]
    if dns:
        extensions.append((x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False))
    return _issue(cn, key, None, (NOW - DAY, NOW + DAY), extensions)


def make_crl(
    issuer: Issued,
    revoked: Sequence[tuple[int, x509.ReasonFlags | None]] = (),
    *,
    number: int | None = 1,
    number_critical: bool = False,
    this_update: dt.datetime = NOW - DAY,
    next_update: dt.datetime | None = NOW + 7 * DAY,
    signer: PrivateKey | None = None,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    revocation_date: dt.datetime = NOW - 2 * DAY,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(this_update)
        .next_update(next_update or this_update + DAY)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=number_critical)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    for serial, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revocation_date)
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    key = signer or issuer.key
    return builder.sign(key, digest_for(key))


def make_ocsp(
    cert: x509.Certificate,
    issuer: Issued,
    *,
    responder: Issued | None = None,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: dt.datetime = NOW - dt.timedelta(hours=1),
    next_update: dt.datetime | None = NOW + DAY,
    nonce: bytes | None = None,
    revocation_reason: x509.ReasonFlags | None = None,
    include_responder: bool = True,
) -> bytes:
    signer = responder or issuer
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer.cert,
        algorithm=hashes.SHA1(),  # noqa: S303 - the OCSP CertID hash responders use
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=NOW - 2 * DAY if status is ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=revocation_reason,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
    if responder is not None and include_responder:
        builder = builder.certificates([responder.cert])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(signer.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def make_responder(issuer: Issued, *, ocsp_signing: bool = True) -> Issued:
    usages = (
        [ExtendedKeyUsageOID.OCSP_SIGNING] if ocsp_signing else [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    return make_leaf(issuer, cn="ocsp responder", eku=usages)


def pem_of(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
