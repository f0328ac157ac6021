"""mTLS and X.509: chain verification, SPIFFE identities, CRL/OCSP revocation, RFC 8705.

Built on ``cryptography.x509.verification`` (path building, RFC 5280 and web-PKI rules), with
authcore's stricter leaf policy, exact-time validity, X.509-SVID rules, revocation and RFC 8705
certificate binding on top.  See the mTLS guide for every choice that is stricter than
cryptography and for what cryptography cannot do (URI name constraints and Ed25519 CAs fail
closed).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

from authcore.mtls import _binding
from authcore.mtls._binding import TlsClientAuth, check_binding
from authcore.mtls._chain import RevocationChecker, TrustStore, verify_client, verify_server
from authcore.mtls._identity import ClientIdentity, ServerIdentity, SpiffeId, thumbprint
from authcore.mtls._load import (
    CertificateInput,
    ChainInput,
    chain_from_asgi,
    chain_from_headers,
    load_certificate,
    load_chain,
    load_chain_file,
    load_crl,
    load_crl_file,
)
from authcore.mtls._revocation import (
    CRLChecker,
    CRLFetcher,
    OCSPChecker,
    OCSPFetcher,
    RevocationPolicy,
    RevocationScope,
    RevocationStatus,
    build_ocsp_request,
    urllib_crl_fetcher,
    urllib_ocsp_fetcher,
)

# Bound here, not imported, so that autodoc finds the docstring (it reads this module's source).
TLS_CLIENT_AUTH_PARAMETERS: Final[tuple[str, ...]] = _binding.TLS_CLIENT_AUTH_PARAMETERS
"""The RFC 8705 section 2.1.2 client metadata names, of which a client uses exactly one.

:meth:`TlsClientAuth.from_metadata` looks for exactly one of these keys.

.. versionadded:: 0.1.0
"""

__all__ = [
    "TLS_CLIENT_AUTH_PARAMETERS",
    "CRLChecker",
    "CRLFetcher",
    "CertificateInput",
    "ChainInput",
    "ClientIdentity",
    "OCSPChecker",
    "OCSPFetcher",
    "RevocationChecker",
    "RevocationPolicy",
    "RevocationScope",
    "RevocationStatus",
    "ServerIdentity",
    "SpiffeId",
    "TlsClientAuth",
    "TrustStore",
    "build_ocsp_request",
    "chain_from_asgi",
    "chain_from_headers",
    "check_binding",
    "load_certificate",
    "load_chain",
    "load_chain_file",
    "load_crl",
    "load_crl_file",
    "thumbprint",
    "urllib_crl_fetcher",
    "urllib_ocsp_fetcher",
    "verify_client",
    "verify_server",
]
