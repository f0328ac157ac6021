"""RFC 8705: certificate-bound access tokens and ``tls_client_auth`` subject matching.

* Section 3.1: a token's ``cnf`` claim carries ``x5t#S256``, the base64url SHA-256 thumbprint
  of the client certificate's DER; :func:`check_binding` compares it in constant time.
* Section 2.1.2: a client registered for ``tls_client_auth`` names exactly one of
  ``tls_client_auth_subject_dn``, ``tls_client_auth_san_dns``, ``tls_client_auth_san_uri``,
  ``tls_client_auth_san_ip`` or ``tls_client_auth_san_email``; :class:`TlsClientAuth` checks a
  verified certificate against it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast

from cryptography import x509

from authcore._ct import bytes_eq
from authcore.errors import BindingMismatch, ConfigurationError, NameMismatch
from authcore.mtls._identity import ClientIdentity, names_of, thumbprint
from authcore.mtls._load import checked_certificate

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["TLS_CLIENT_AUTH_PARAMETERS", "TlsClientAuth", "check_binding"]

# Documented where authcore.mtls exports it (autodoc reads the docstring there).
TLS_CLIENT_AUTH_PARAMETERS: Final = (
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
)


def _leaf(cert: x509.Certificate | ClientIdentity) -> x509.Certificate:
    if isinstance(cert, ClientIdentity):
        return cert.certificate
    if isinstance(cert, x509.Certificate):
        return checked_certificate(cert, "certificate")
    raise ConfigurationError("expected a certificate or a ClientIdentity")


def check_binding(cnf: Mapping[str, object], cert: x509.Certificate | ClientIdentity) -> str:
    """Check that a token's ``cnf`` claim is bound to this certificate (RFC 8705 section 3).

    Args:
        cnf: The token's ``cnf`` claim (a mapping with ``x5t#S256``).
        cert: The client certificate of the TLS connection, or its verified identity.

    Returns:
        The matching thumbprint.

    Raises:
        BindingMismatch: If ``cnf`` has no ``x5t#S256`` string or it names another certificate.
        MalformedCertificate: If the certificate's names or extensions cannot be parsed.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cnf, Mapping):
        raise BindingMismatch("cnf claim is not an object")
    expected = cnf.get("x5t#S256")
    if not isinstance(expected, str) or not expected.isascii():
        raise BindingMismatch("cnf claim has no x5t#S256 thumbprint")
    actual = thumbprint(_leaf(cert))
    if not bytes_eq(expected.encode("ascii"), actual.encode("ascii")):
        raise BindingMismatch("x5t#S256 does not match the client certificate")
    return actual


_EXTRA_NAMES: Final = {
    "EMAILADDRESS": x509.NameOID.EMAIL_ADDRESS,
    "SERIALNUMBER": x509.NameOID.SERIAL_NUMBER,
    "GIVENNAME": x509.NameOID.GIVEN_NAME,
    "SN": x509.NameOID.SURNAME,
    "TITLE": x509.NameOID.TITLE,
}


def _parse_dn(text: str) -> x509.Name:
    """Parse an RFC 4514 DN, with attribute type names case-insensitive (RFC 4512 2.5)."""
    out: list[str] = []
    in_type, escaped = True, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_type and ch == "=":
            in_type = False
        elif not in_type and ch in ",+":
            in_type = True
        out.append(ch.upper() if in_type else ch)
    try:
        return x509.Name.from_rfc4514_string("".join(out), _EXTRA_NAMES)
    except ValueError:
        raise ConfigurationError("tls_client_auth_subject_dn is not an RFC 4514 DN") from None


def _norm(value: str) -> str:
    # RFC 4518-style preparation, simplified: case fold and collapse insignificant spaces.
    return " ".join(value.casefold().split())


def _dn_key(name: x509.Name) -> tuple[frozenset[tuple[str, str]], ...]:
    return tuple(
        frozenset(
            (
                attr.oid.dotted_string,
                _norm(attr.value if isinstance(attr.value, str) else attr.value.hex()),
            )
            for attr in rdn
        )
        for rdn in name.rdns
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsClientAuth:
    """The ``tls_client_auth`` expectation of one OAuth client (RFC 8705 section 2.1.2).

    Matching rules: the subject DN compares attribute by attribute, case-insensitively and with
    insignificant spaces collapsed (a simplification of RFC 4517 distinguishedNameMatch); a
    dNSName compares case-insensitively; a URI exactly; an IP address by value (so ``::1`` and
    ``0:0::1`` match); an email with the local part exact and the domain case-insensitive.
    SAN values match when any SAN entry of that type matches.

    Attributes:
        parameter: Which metadata parameter is used (one of :data:`TLS_CLIENT_AUTH_PARAMETERS`).
        value: Its registered value.

    .. versionadded:: 0.1.0
    """

    parameter: str
    value: str

    def __post_init__(self) -> None:
        if self.parameter not in TLS_CLIENT_AUTH_PARAMETERS:
            raise ConfigurationError(f"unknown tls_client_auth parameter {self.parameter!r}")
        if not isinstance(cast("object", self.value), str) or not self.value:
            raise ConfigurationError(f"{self.parameter} must be a non-empty string")
        if self.parameter == "tls_client_auth_subject_dn":
            _parse_dn(self.value)
        elif self.parameter == "tls_client_auth_san_ip":
            try:
                ipaddress.ip_address(self.value)
            except ValueError:
                raise ConfigurationError("tls_client_auth_san_ip is not an IP address") from None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> Self:
        """Read the client's registered metadata; exactly one parameter must be present.

        Raises:
            ConfigurationError: If none or several are present, or the value is invalid.
        """
        if not isinstance(metadata, Mapping):
            raise ConfigurationError("client metadata must be a mapping")
        present = [p for p in TLS_CLIENT_AUTH_PARAMETERS if p in metadata]
        if len(present) != 1:
            raise ConfigurationError(
                "tls_client_auth needs exactly one of " + ", ".join(TLS_CLIENT_AUTH_PARAMETERS)
            )
        value = metadata[present[0]]
        if not isinstance(value, str):
            raise ConfigurationError(f"{present[0]} must be a string")
        return cls(parameter=present[0], value=value)

    def match(self, cert: x509.Certificate | ClientIdentity) -> str:
        """Check a verified client certificate against the registration.

        Args:
            cert: The verified leaf or the :class:`ClientIdentity` from
                :func:`~authcore.mtls.verify_client`.  This checks names only: verify the
                chain first.

        Returns:
            The parameter that matched.

        Raises:
            NameMismatch: If the certificate does not carry the registered name.
            MalformedCertificate: If the certificate's names cannot be parsed.
        """
        leaf = _leaf(cert)
        names = names_of(leaf)
        kind = self.parameter.removeprefix("tls_client_auth_")
        if kind == "subject_dn":
            ok = _dn_key(leaf.subject) == _dn_key(_parse_dn(self.value))
        elif kind == "san_dns":
            ok = any(n.lower() == self.value.lower() for n in names.dns_names)
        elif kind == "san_uri":
            ok = self.value in names.uris
        elif kind == "san_ip":
            ok = ipaddress.ip_address(self.value) in names.ip_addresses
        else:
            local, _, domain = self.value.rpartition("@")
            ok = any(
                e.rpartition("@")[0] == local and e.rpartition("@")[2].lower() == domain.lower()
                for e in names.emails
            )
        if not ok:
            raise NameMismatch(f"client certificate does not match {self.parameter}")
        return self.parameter
