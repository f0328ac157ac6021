"""Where authcore.mtls disagrees with x509-limbo's expected result, and why.

Keys are limbo test ids; values are ``(outcome, reason)`` where outcome is ``"accepted"`` (limbo
expects FAILURE) or ``"rejected:<error code>"`` (limbo expects SUCCESS).  This is a result
table, not a copy of the vectors.  ``test_limbo.py`` fails if the disagreements change in
either direction, and checks that every wrong acceptance is also accepted by raw cryptography.
"""

from __future__ import annotations

_AKI_SKI = (
    "accepted, as raw cryptography does: missing authority/subject key identifiers on CA "
    "certificates are not enforced by default (path building matches by name and signature; "
    "many private CAs omit them); require_key_identifiers=True refuses it"
)
_ANCHOR_AKI = (
    "accepted, as raw cryptography does, even with require_key_identifiers=True: the trust "
    "anchor's AKI is not required (an anchor is an input, RFC 5280 6.1.1(d)); requiring it "
    "would wrongly refuse cve::cve-2024-0567, whose cross-signed anchor has no AKI either"
)
_ROOT_AKI = (
    "accepted, as raw cryptography does: a trust anchor's extensions are inputs, not processed "
    "(RFC 5280 6.1.1(d))"
)
_CN = (
    "accepted, as raw cryptography does: the subject CN is never used for name matching, so a "
    "CN that disagrees with the SAN cannot cause a wrong match; the CA/B rule that the CN must "
    "repeat a SAN entry is not enforced (private PKIs put descriptive CNs there; an opt-in was "
    "measured and dropped: it fixed these 9 but wrongly refused 395 limbo cases whose leaf "
    "CN is example.com beside other SANs)"
)
_PSL = (
    "accepted, as raw cryptography does: no public suffix list is shipped (no extra runtime "
    "dependency); wildcards are matched per RFC 6125 only"
)
_RAW_REJECTS = "rejected, as raw cryptography does: {}"

DISAGREEMENTS: dict[str, tuple[str, str]] = {
    # ---- wrong acceptances (all shared with raw cryptography 50.0.2) ----
    "rfc5280::aki::cross-signed-root-missing-aki": ("accepted", _ANCHOR_AKI),
    "rfc5280::aki::intermediate-missing-aki": ("accepted", _AKI_SKI),
    "rfc5280::ski::intermediate-missing-ski": ("accepted", _AKI_SKI),
    "rfc5280::ski::root-missing-ski": ("accepted", _AKI_SKI),
    "webpki::aki::root-with-aki-all-fields": ("accepted", _ROOT_AKI),
    "webpki::aki::root-with-aki-ski-mismatch": ("accepted", _ROOT_AKI),
    "webpki::eku::root-has-eku": (
        "accepted",
        (
            "accepted, as raw cryptography does: an EKU on a trust anchor is a CA/B issuance "
            "rule; the anchor's EKU still has to allow the usage"
        ),
    ),
    "webpki::cn::case-mismatch": ("accepted", _CN),
    "webpki::cn::ipv4-hex-mismatch": ("accepted", _CN),
    "webpki::cn::ipv4-leading-zeros-mismatch": ("accepted", _CN),
    "webpki::cn::ipv6-non-rfc5952-mismatch": ("accepted", _CN),
    "webpki::cn::ipv6-uncompressed-mismatch": ("accepted", _CN),
    "webpki::cn::ipv6-uppercase-mismatch": ("accepted", _CN),
    "webpki::cn::not-in-san": ("accepted", _CN),
    "webpki::cn::punycode-not-in-san": ("accepted", _CN),
    "webpki::cn::utf8-vs-punycode-mismatch": ("accepted", _CN),
    "webpki::san::public-suffix-multi-label-wildcard-san": ("accepted", _PSL),
    "webpki::san::public-suffix-private-namespace-wildcard-san": ("accepted", _PSL),
    "webpki::san::public-suffix-wildcard-san": ("accepted", _PSL),
    # ---- wrong rejections ----
    "pathlen::max-chain-depth-1-self-issued": (
        "rejected:untrusted_certificate",
        _RAW_REJECTS.format("self-issued intermediates count against the depth limit"),
    ),
    "pathlen::self-issued-certs-pathlen": (
        "rejected:untrusted_certificate",
        _RAW_REJECTS.format("self-issued intermediates count against pathLenConstraint"),
    ),
    "pathlen::validation-ignores-pathlen-in-leaf": (
        "rejected:policy_violation",
        _RAW_REJECTS.format("a CA certificate in leaf position is refused"),
    ),
    "rfc5280::ca-as-leaf": (
        "rejected:policy_violation",
        _RAW_REJECTS.format("a CA certificate in leaf position is refused"),
    ),
    "rfc5280::nc::permitted-dn-match": (
        "rejected:name_mismatch",
        _RAW_REJECTS.format("the leaf has no SAN; cryptography's policy requires one"),
    ),
    "rfc5280::eku::ee-without-eku": (
        "rejected:wrong_usage",
        (
            "stricter by choice: a leaf must name serverAuth/clientAuth explicitly "
            "(require_eku=False accepts it, as RFC 5280 4.2.1.12 allows)"
        ),
    ),
    "webpki::nc::permitted-dns-match-noncritical": (
        "rejected:policy_violation",
        (
            "stricter by choice: nameConstraints must be critical (RFC 5280 4.2.1.10 MUST); "
            "the web-PKI profile tolerates it, its rfc5280:: twin expects the rejection"
        ),
    ),
}

# Wrong acceptances that verify_client/verify_server(require_key_identifiers=True) turn into
# the expected rejection, without any new disagreement.
FIXED_BY_KEY_IDENTIFIERS: dict[str, str] = {
    "rfc5280::aki::intermediate-missing-aki": "rejected:policy_violation",
    "rfc5280::ski::intermediate-missing-ski": "rejected:policy_violation",
    "rfc5280::ski::root-missing-ski": "rejected:policy_violation",
}
