"""mTLS client-chain verification against raw ``cryptography.x509.verification``.

The chain is P-256 root -> intermediate -> leaf (clientAuth), issued by authcore.mtls._testpki.
The floor does the work ``verify_client`` does with a cached verifier, each step the fastest
plain way: cryptography's ``ClientVerifier.verify`` with one verifier built up front (path
building and signatures, in cryptography's Rust); the validity of every certificate of the
path at the exact time, at one-second granularity, against bounds taken from the
certificates before timing; and the verified chain with the leaf's identity values (subject,
SAN names, RFC 8705 thumbprint) as a tuple.  The time-independent checks (clientAuth EKU,
key strength, positive serials, critical constraints) and the identity values are computed
once before timing, as authcore computes them once per certificate and remembers them; its
per-call extra is finding what it remembered (by the objects' identity), the checks of its
arguments and a frozen result object.  The same with a verifier built per call shows what
rebuilding costs, which authcore's per-window cache avoids.
"""

from __future__ import annotations

import datetime as dt
import itertools

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from authcore._bench import Group
from authcore._encoding import b64url_encode
from authcore.mtls import CRLChecker, TrustStore, verify_client
from authcore.mtls._testpki import issue, key_usage

NAME = "mtls"

_NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
_DAY = dt.timedelta(days=1)
_SECOND = dt.timedelta(seconds=1)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    serial: int,
) -> x509.Certificate:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (key_usage(key_cert_sign=ca, crl_sign=ca), True),
    ]
    if ca:
        extensions.append((x509.BasicConstraints(ca=True, path_length=None), True))
    else:
        extensions += [
            (x509.SubjectAlternativeName([x509.DNSName("client.example")]), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        ]
    return issue(
        subject,
        key,
        issuer=issuer,
        serial=serial,
        not_before=_NOW - 30 * _DAY,
        not_after=_NOW + 30 * _DAY,
        extensions=extensions,
    )


def _second_bounds(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    """Valid at ``t`` (one-second granularity) exactly when ``lo <= t < hi``."""
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    lo = before.replace(microsecond=0) + _SECOND if before.microsecond else before
    return lo, after.replace(microsecond=0) + _SECOND


def _failed_once_checks(*chain: x509.Certificate) -> bool:
    """Whether the chain fails a check authcore does once per certificate.

    Those are: the leaf's extendedKeyUsage has clientAuth and not anyExtendedKeyUsage; every
    key is P-256 (allowed); serials are positive; no name or policy constraints non-critical.
    """
    eku = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    usages = list(eku)
    return (
        ExtendedKeyUsageOID.CLIENT_AUTH not in usages
        or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages
        or any(
            not isinstance(key := cert.public_key(), ec.EllipticCurvePublicKey)
            or key.curve.name != "secp256r1"
            or cert.serial_number <= 0
            or any(
                isinstance(ext.value, (x509.NameConstraints, x509.PolicyConstraints))
                and not ext.critical
                for ext in cert.extensions
            )
            for cert in chain
        )
    )


def groups(quick: bool) -> list[Group]:  # noqa: ARG001, C901, FBT001 - same groups either way; one closure per case
    """Verify one client chain: raw cryptography vs verify_client, with and without a CRL."""
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Bench Root", root_key, None, ca=True, serial=1)
    inter = _cert("Bench Intermediate", inter_key, (root, root_key), ca=True, serial=2)
    leaf = _cert("bench client", leaf_key, (inter, inter_key), ca=False, serial=3)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(inter.subject)
        .last_update(_NOW - _DAY)
        .next_update(_NOW + 7 * _DAY)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(99).revocation_date(_NOW - _DAY).build()
        )
        .sign(inter_key, hashes.SHA256())
    )
    store = Store([root])
    reused = PolicyBuilder().store(store).time(_NOW).build_client_verifier()
    trust = TrustStore([root])
    fresh_trust = TrustStore([root], time_window=dt.timedelta(0))
    checker = CRLChecker([crl])
    chain = [leaf, inter]
    ticks = itertools.count()

    # Before timing, once: what authcore checks once per certificate and remembers.
    if _failed_once_checks(leaf, inter, root):  # pragma: no cover - smoke check
        raise AssertionError("the bench chain fails a time-independent check")
    bounds = [_second_bounds(cert) for cert in (leaf, inter, root)]
    identity = (
        leaf.subject,
        ("client.example",),
        (),
        (),
        (),
        None,
        b64url_encode(leaf.fingerprint(hashes.SHA256())),
    )

    def floor() -> object:
        chain = reused.verify(leaf, [inter]).chain
        now = _NOW
        for (lo, hi), _ in zip(bounds, chain, strict=True):
            if not lo <= now < hi:
                raise AssertionError("not valid at now")  # pragma: no cover - smoke check
        return len((tuple(chain), *identity)[0])

    def raw_fresh() -> object:
        verifier = PolicyBuilder().store(store).time(_NOW).build_client_verifier()
        return len(verifier.verify(leaf, [inter]).chain)

    def raw_crl() -> object:
        result = len(reused.verify(leaf, [inter]).chain)
        if not crl.is_signature_valid(inter_key.public_key()):  # pragma: no cover - smoke
            raise AssertionError("CRL signature")
        if crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None:
            raise AssertionError("revoked")  # pragma: no cover - smoke
        return result

    def raw_store() -> object:
        verifier = PolicyBuilder().store(Store([root])).time(_NOW).build_client_verifier()
        return len(verifier.verify(leaf, [inter]).chain)

    def ours_new_store() -> object:
        return len(verify_client(chain, trust=TrustStore([root]), now=_NOW).chain)

    def ours() -> object:
        return len(verify_client(chain, trust=trust, now=_NOW).chain)

    def ours_fresh() -> object:
        # time_window=0 and a new `now` per call: a verifier is built for every call.
        now = _NOW + dt.timedelta(microseconds=next(ticks))
        return len(verify_client(chain, trust=fresh_trust, now=now).chain)

    def ours_crl() -> object:
        return len(verify_client(chain, trust=trust, now=_NOW, revocation=checker).chain)

    cases = {
        "cryptography (verifier reused)": floor,
        "cryptography (verifier built per call)": raw_fresh,
        "cryptography reused + CRL lookup": raw_crl,
        "authcore verify_client (cached verifier)": ours,
        "authcore verify_client (verifier built per call)": ours_fresh,
        "authcore verify_client + CRLChecker": ours_crl,
        "cryptography (Store and verifier built per call)": raw_store,
        "authcore verify_client (new TrustStore per call)": ours_new_store,
    }
    expected = floor()
    for name, fn in cases.items():  # smoke check: every path verifies the 3-certificate chain
        if fn() != expected:  # pragma: no cover - smoke check
            raise AssertionError(f"{name} disagrees with the floor")
    return [
        Group(
            name="mTLS verify_client (P-256 root -> intermediate -> leaf)",
            floor="cryptography (verifier reused)",
            cases=cases,
            note="prebuilt ClientVerifier.verify, validity at now, identity tuple",
        )
    ]
