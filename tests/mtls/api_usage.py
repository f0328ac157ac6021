"""Type-checked, never run: the mTLS API as users write it (service-identity's mypy-api).

mypy --strict checks this file with the rest of tests/; a signature change that breaks
ordinary use shows up here as a type error.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from authcore.errors import CertificateError
from authcore.http import Headers, percent_decode
from authcore.mtls import (
    ClientIdentity,
    TrustStore,
    chain_from_headers,
    load_chain_file,
    load_crl_file,
    verify_client,
)

if TYPE_CHECKING:
    import pathlib

    from cryptography import x509


def trust_from_disk(ca: pathlib.Path, spiffe: bytes) -> tuple[TrustStore, TrustStore]:
    """Anchors from a file (str or Path), options as for the constructor."""
    with_bundle = TrustStore.from_file(ca, spiffe_bundles={"example.org": spiffe})
    return with_bundle, TrustStore.from_file(str(ca), time_window=dt.timedelta(0))


def verify_forwarded(headers: Headers, trust: TrustStore, unix_now: int) -> str | None:
    """A forwarded chain verified at UNIX seconds (now= takes a datetime or a number)."""
    try:
        chain: tuple[x509.Certificate, ...] = chain_from_headers(headers, trust_forwarded=True)
        identity: ClientIdentity = verify_client(chain, trust=trust, now=unix_now)
    except CertificateError as exc:
        return exc.reason
    return identity.thumbprint


def from_files(chain: str, crl: pathlib.Path) -> int:
    """Chain and CRL files, and the strict percent-decoder."""
    crls: list[x509.CertificateRevocationList] = load_crl_file(crl)
    decoded: str = percent_decode("a%20b", plus=False)
    return len(load_chain_file(chain)) + len(crls) + len(decoded)
