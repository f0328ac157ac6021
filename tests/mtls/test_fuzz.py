"""Mutation fuzz of forwarded certificates, ASGI forms, PEM/DER/CRL loading and identities.

The engine and the targets are in ``tests/_fuzz.py``; ``python -m benchmarks.fuzz_long`` runs
them for longer.
"""

from __future__ import annotations

import pytest

from tests._fuzz import Target, assert_no_escape, mtls_targets


@pytest.mark.parametrize("target", mtls_targets(), ids=lambda t: t.name)
def test_mtls_inputs_raise_only_typed_errors(target: Target) -> None:
    """Mutated XFCC, forwarded PEM, ASGI chains, certificates and CRLs raise only typed errors."""
    assert_no_escape(target, count=1000)
