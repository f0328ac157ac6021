"""Run x509-limbo cases through authcore.mtls and through raw cryptography (the baseline)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from authcore.clock import utc_now
from authcore.errors import AuthcoreError, NameMismatch
from authcore.mtls import CRLChecker, TrustStore, verify_client, verify_server

if TYPE_CHECKING:
    from pathlib import Path

Case = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    code: str  # "ok" or the authcore error code


def load_cases(path: Path) -> list[Case]:
    """Parse limbo.json once."""
    with path.open("rb") as f:
        cases: list[Case] = json.load(f)["testcases"]
    return cases


def _time(case: Case) -> dt.datetime:
    value = case["validation_time"]
    return dt.datetime.fromisoformat(value) if value else utc_now()


def run_authcore(case: Case, *, strict: bool = False) -> Outcome:
    """Verify one case with the public authcore API (``strict``: require_key_identifiers)."""
    try:
        trust = TrustStore(case["trusted_certs"]) if case["trusted_certs"] else None
        if trust is None:
            return Outcome(accepted=False, code="untrusted_certificate")
        chain = [case["peer_certificate"], *case["untrusted_intermediates"]]
        revocation = CRLChecker(case["crls"]) if case["crls"] else None
        now = _time(case)
        depth = case["max_chain_depth"]
        if case["validation_kind"] == "SERVER":
            peer = case["expected_peer_name"]
            if peer is None or peer["kind"] not in {"DNS", "IP"}:
                return Outcome(accepted=False, code="name_mismatch")
            verify_server(
                chain,
                trust=trust,
                server_name=peer["value"],
                now=now,
                revocation=revocation,
                max_chain_depth=depth,
                require_key_identifiers=strict,
            )
        else:
            identity = verify_client(
                chain,
                trust=trust,
                now=now,
                revocation=revocation,
                max_chain_depth=depth,
                require_key_identifiers=strict,
            )
            for name in case["expected_peer_names"]:
                kind, value = name["kind"], name["value"]
                if kind == "RFC822":
                    found = value in identity.emails
                elif kind == "DNS":
                    found = value.lower() in {n.lower() for n in identity.dns_names}
                else:
                    found = ipaddress.ip_address(value) in identity.ip_addresses
                if not found:
                    raise NameMismatch(f"expected peer name {kind} not present")
    except AuthcoreError as exc:
        return Outcome(accepted=False, code=exc.code)
    return Outcome(accepted=True, code="ok")


def run_raw(case: Case) -> bool:
    """Verify one case with cryptography alone, as the C2SP harness does (no CRLs)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trusted = [x509.load_pem_x509_certificate(c.encode()) for c in case["trusted_certs"]]
            inter = [
                x509.load_pem_x509_certificate(c.encode()) for c in case["untrusted_intermediates"]
            ]
            leaf = x509.load_pem_x509_certificate(case["peer_certificate"].encode())
        builder = PolicyBuilder().store(Store(trusted)).time(_time(case))
        if case["max_chain_depth"] is not None:
            builder = builder.max_chain_depth(case["max_chain_depth"])
        if case["validation_kind"] == "SERVER":
            peer = case["expected_peer_name"]
            subject: x509.DNSName | x509.IPAddress
            if peer["kind"] == "IP":
                subject = x509.IPAddress(ipaddress.ip_address(peer["value"]))
            else:
                subject = x509.DNSName(peer["value"])
            builder.build_server_verifier(subject).verify(leaf, inter)
        else:
            builder.build_client_verifier().verify(leaf, inter)
    except (VerificationError, ValueError):
        return False
    return True


def disagreements(cases: list[Case], *, strict: bool = False) -> dict[str, str]:
    """Return limbo id -> 'accepted' / 'rejected:<code>' for each case authcore gets wrong."""
    found: dict[str, str] = {}
    for case in cases:
        outcome = run_authcore(case, strict=strict)
        expected = case["expected_result"] == "SUCCESS"
        if outcome.accepted != expected:
            found[case["id"]] = "accepted" if outcome.accepted else f"rejected:{outcome.code}"
    return found
