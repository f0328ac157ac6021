"""Fixtures of the loopback HTTPS tests: one throwaway PKI per module, a fresh server per test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests._loopback import LoopbackPKI, Server, make_pki, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPKI:
    """A CA and a 127.0.0.1 server certificate, shared by the tests of one module."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: LoopbackPKI) -> Iterator[Server]:
    """A scriptable HTTPS server on 127.0.0.1."""
    yield from serve(pki)


@pytest.fixture
def plain_server() -> Iterator[Server]:
    """A scriptable plain-HTTP server on 127.0.0.1."""
    yield from serve(None)


@pytest.fixture
def cafile(pki: LoopbackPKI, tmp_path: Path) -> str:
    """The path of a PEM file holding the test CA (for the CLI's --cafile options)."""
    path = tmp_path / "ca.pem"
    path.write_bytes(pki.ca_pem)
    return str(path)
