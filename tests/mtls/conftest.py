"""Fixtures for the mTLS tests: one small PKI built per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.mtls import TrustStore
from tests.mtls._pki import Issued, make_ca, make_leaf


@dataclass
class PKI:
    root: Issued
    inter: Issued
    client: Issued
    server: Issued
    other_root: Issued

    @property
    def trust(self) -> TrustStore:
        return TrustStore([self.root.cert])


@pytest.fixture(scope="session")
def pki() -> PKI:
    """Root -> intermediate -> client and server leaves, plus an unrelated root."""
    root = make_ca("Test Root")
    inter = make_ca("Test Intermediate", issuer=root, path_length=0)
    client = make_leaf(
        inter,
        cn="client-1",
        dns=("client.example",),
        uris=("https://client.example/id",),
        emails=("ops@example.com",),
        ips=("192.0.2.7",),
    )
    server = make_leaf(
        inter,
        cn="server",
        dns=("api.example.com", "*.svc.example.com"),
        ips=("2001:db8::1",),
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
    )
    return PKI(root=root, inter=inter, client=client, server=server, other_root=make_ca("Other"))
