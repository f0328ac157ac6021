"""Identities carried by certificates: SAN names, subject, SPIFFE ID, RFC 8705 thumbprint.

SPIFFE IDs follow the SPIFFE-ID specification section 2: ``spiffe://`` then a trust domain of
lowercase letters, digits, ``.``, ``-`` and ``_``; then an optional path of ``/``-separated
segments of letters, digits, ``.``, ``-`` and ``_``, none empty, ``.`` or ``..``; no query,
fragment, port, user info or percent-encoding; at most 2048 bytes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from authcore._encoding import b64url_encode
from authcore.errors import MalformedCertificate, NameMismatch

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ClientIdentity", "ServerIdentity", "SpiffeId", "names_of", "thumbprint"]

_SPIFFE_MAX: Final = 2048
_TRUST_DOMAIN_MAX: Final = 255
_TRUST_DOMAIN_RE: Final = re.compile(r"[a-z0-9._-]+")
_SEGMENT_RE: Final = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpiffeId:
    """A parsed SPIFFE ID, ``spiffe://<trust_domain><path>``.

    Attributes:
        trust_domain: The trust domain name, for example ``"example.org"``.
        path: The path, ``""`` or starting with ``/``, for example ``"/ns/prod/sa/api"``.

    .. versionadded:: 0.1.0
    """

    trust_domain: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Self:  # noqa: C901 - one branch per grammar rule
        """Parse and validate a SPIFFE ID.

        Args:
            text: The ID, for example ``"spiffe://example.org/ns/prod/sa/api"``.

        Returns:
            The parsed ID.

        Raises:
            NameMismatch: If ``text`` is not a valid SPIFFE ID.
        """
        if not isinstance(text, str):
            raise NameMismatch("SPIFFE ID must be a string")
        if len(text.encode("utf-8", "surrogatepass")) > _SPIFFE_MAX:
            raise NameMismatch(f"SPIFFE ID longer than {_SPIFFE_MAX} bytes")
        prefix = "spiffe://"
        if not text.startswith(prefix):
            raise NameMismatch("SPIFFE ID must start with 'spiffe://' (lowercase)")
        rest = text[len(prefix) :]
        slash = rest.find("/")
        domain, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
        if not domain:
            raise NameMismatch("SPIFFE ID has an empty trust domain")
        if len(domain) > _TRUST_DOMAIN_MAX or not _TRUST_DOMAIN_RE.fullmatch(domain):
            raise NameMismatch(
                "SPIFFE trust domain may hold only lowercase letters, digits, '.', '-', '_'"
            )
        if path:
            for segment in path[1:].split("/"):
                if not segment:
                    raise NameMismatch("SPIFFE ID path has an empty segment or trailing '/'")
                if segment in {".", ".."}:
                    raise NameMismatch("SPIFFE ID path has a '.' or '..' segment")
                if not _SEGMENT_RE.fullmatch(segment):
                    raise NameMismatch(
                        "SPIFFE ID path may hold only letters, digits, '.', '-', '_'"
                    )
        return cls(trust_domain=domain, path=path)

    def __str__(self) -> str:
        return f"spiffe://{self.trust_domain}{self.path}"


def thumbprint(cert: x509.Certificate) -> str:
    """Return the RFC 8705 ``x5t#S256`` thumbprint of a certificate.

    It is the unpadded base64url encoding of the SHA-256 digest of the DER encoding
    (RFC 8705 section 3.1).

    Args:
        cert: The certificate.

    Returns:
        The thumbprint, 43 characters.

    Raises:
        MalformedCertificate: If ``cert`` is not a certificate object.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cert, x509.Certificate):
        raise MalformedCertificate(f"expected a certificate, got {type(cert).__name__}")
    return b64url_encode(cert.fingerprint(hashes.SHA256()))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Names:
    dns_names: tuple[str, ...]
    ip_addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
    uris: tuple[str, ...]
    emails: tuple[str, ...]


def names_of(cert: x509.Certificate) -> _Names:
    """Return the SAN names of a certificate (empty tuples when there is no SAN).

    Raises:
        MalformedCertificate: If the SAN extension cannot be parsed.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return _Names(dns_names=(), ip_addresses=(), uris=(), emails=())
    except (ValueError, TypeError):
        raise MalformedCertificate("subjectAltName cannot be parsed") from None
    ips = tuple(
        ip
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))
    )
    return _Names(
        dns_names=tuple(san.get_values_for_type(x509.DNSName)),
        ip_addresses=ips,
        uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
        emails=tuple(san.get_values_for_type(x509.RFC822Name)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Identity:
    """Fields shared by :class:`ClientIdentity` and :class:`ServerIdentity`."""

    chain: tuple[x509.Certificate, ...]
    subject: x509.Name
    dns_names: tuple[str, ...]
    ip_addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
    uris: tuple[str, ...]
    emails: tuple[str, ...]
    spiffe_id: SpiffeId | None
    thumbprint: str

    @property
    def certificate(self) -> x509.Certificate:
        """The verified leaf certificate (``chain[0]``)."""
        return self.chain[0]

    @property
    def subject_text(self) -> str:
        """The subject as an RFC 4514 string."""
        return self.subject.rfc4514_string()

    def public_key_der(self) -> bytes:
        """Return the leaf's SubjectPublicKeyInfo in DER."""
        return (
            self.chain[0]
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdentity(_Identity):
    """A verified TLS client: what :func:`~authcore.mtls.verify_client` returns.

    Attributes:
        chain: The verified chain, leaf first, ending with the trust anchor (a pinned leaf
            gives a chain of one).
        subject: The leaf's subject name.
        dns_names: SAN dNSName entries.
        ip_addresses: SAN iPAddress entries.
        uris: SAN uniformResourceIdentifier entries.
        emails: SAN rfc822Name entries.
        spiffe_id: The SPIFFE ID, set only when the leaf was verified as an X.509-SVID against
            the bundle of that ID's trust domain.
        thumbprint: The RFC 8705 ``x5t#S256`` thumbprint of the leaf.

    .. versionadded:: 0.1.0
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerIdentity(_Identity):
    """A verified TLS server: what :func:`~authcore.mtls.verify_server` returns.

    Attributes:
        chain: The verified chain, leaf first, ending with the trust anchor.
        subject: The leaf's subject name.
        dns_names: SAN dNSName entries.
        ip_addresses: SAN iPAddress entries.
        uris: SAN uniformResourceIdentifier entries.
        emails: SAN rfc822Name entries.
        spiffe_id: The SPIFFE ID when verified as an X.509-SVID, else ``None``.
        thumbprint: The RFC 8705 ``x5t#S256`` thumbprint of the leaf.
        server_name: The DNS name or IP address that was matched.

    .. versionadded:: 0.1.0
    """

    server_name: str
