"""CRLChecker and OCSPChecker: verification rules, policies, scopes, stapling and fetching."""

from __future__ import annotations

import base64
import datetime as dt
import random
import urllib.parse
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    FetchError,
    RevocationUnknown,
    RevokedCertificate,
)
from authcore.mtls import (
    CRLChecker,
    CRLFetcher,
    OCSPChecker,
    OCSPFetcher,
    RevocationPolicy,
    RevocationScope,
    build_ocsp_request,
    urllib_crl_fetcher,
    urllib_ocsp_fetcher,
    verify_client,
    verify_server,
)
from authcore.mtls._testpki import issue
from tests._loopback import LoopbackPKI, Reply, Server, make_pki, serve
from tests.mtls._pki import (
    DAY,
    NOW,
    Issued,
    ec_key,
    make_ca,
    make_crl,
    make_leaf,
    make_ocsp,
    make_responder,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.mtls.conftest import PKI

KEY_COMPROMISE = x509.ReasonFlags.key_compromise


def _chain(pki: PKI, leaf: Issued | None = None) -> list[x509.Certificate]:
    return [(leaf or pki.client).cert, pki.inter.cert]


# ----------------------------------------------------------------------------------------- CRL


def test_crl_revoked_leaf_carries_reason_and_date(pki: PKI) -> None:
    """A listed leaf raises RevokedCertificate with the reason name and date."""
    leaf = make_leaf(pki.inter)
    crl = make_crl(pki.inter, [(leaf.cert.serial_number, KEY_COMPROMISE)])
    with pytest.raises(RevokedCertificate) as info:
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))
    assert info.value.revocation_reason == "keyCompromise"
    assert info.value.revocation_date == NOW - 2 * DAY


def test_crl_unlisted_leaf_passes(pki: PKI) -> None:
    """A leaf not on a valid CRL passes; PEM and DER CRL inputs work alike."""
    crl = make_crl(pki.inter, [(12345, None)])
    for crl_input in (
        crl,
        crl.public_bytes(serialization.Encoding.PEM),
        crl.public_bytes(serialization.Encoding.DER),
    ):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=CRLChecker(crl_input))


def test_crl_without_reason(pki: PKI) -> None:
    """A listed leaf without a reason code has revocation_reason None."""
    leaf = make_leaf(pki.inter)
    crl = make_crl(pki.inter, [(leaf.cert.serial_number, None)])
    with pytest.raises(RevokedCertificate) as info:
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))
    assert info.value.revocation_reason is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"signer": ec_key()}, "signature"),
        ({"this_update": NOW + DAY, "next_update": NOW + 2 * DAY}, "future"),
        ({"this_update": NOW - 9 * DAY, "next_update": NOW - DAY}, "stale"),
        ({"number": None}, "no cRLNumber"),
        ({"number_critical": True}, "must not be critical"),
        ({"extra": [(x509.DeltaCRLIndicator(1), True)]}, "delta"),
        (
            {
                "extra": [
                    (
                        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"),
                        True,
                    )
                ]
            },
            "unsupported critical",
        ),
        (
            {
                "extra": [
                    (
                        x509.IssuingDistributionPoint(
                            full_name=None,
                            relative_name=None,
                            only_contains_user_certs=False,
                            only_contains_ca_certs=True,
                            only_some_reasons=None,
                            indirect_crl=False,
                            only_contains_attribute_certs=False,
                        ),
                        True,
                    )
                ]
            },
            "CA certificates only",
        ),
    ],
    ids=[
        "bad-signature",
        "future",
        "stale",
        "no-number",
        "critical-number",
        "delta",
        "unknown-critical",
        "idp-ca-only",
    ],
)
def test_unusable_crl_is_unknown_under_hard_fail(
    pki: PKI, kwargs: dict[str, object], fragment: str
) -> None:
    """A CRL breaking an RFC 5280 rule is not used: hard-fail raises, soft-fail passes."""
    crl = make_crl(pki.inter, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(RevocationUnknown, match=fragment):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))
    soft = CRLChecker([crl], policy=RevocationPolicy.SOFT_FAIL)
    verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=soft)


def test_no_crl_for_issuer(pki: PKI) -> None:
    """A CRL of another issuer does not cover the leaf (unknown under hard-fail)."""
    crl = make_crl(pki.root, [(pki.client.cert.serial_number, KEY_COMPROMISE)])
    with pytest.raises(RevocationUnknown, match="no CRL"):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))


def test_crl_issuer_without_crl_sign(pki: PKI) -> None:
    """A CRL from an issuer whose keyUsage lacks cRLSign is not used."""
    inter = make_ca("No cRLSign", issuer=pki.root, crl_sign=False)
    leaf = make_leaf(inter)
    crl = make_crl(inter)
    with pytest.raises(RevocationUnknown, match="cRLSign"):
        verify_client(
            [leaf.cert, inter.cert], trust=pki.trust, now=NOW, revocation=CRLChecker([crl])
        )


def test_highest_crl_number_wins_and_rollback_is_refused(pki: PKI) -> None:
    """The newest CRL decides; once seen, an older CRL alone is refused as a rollback."""
    leaf = make_leaf(pki.inter)
    old = make_crl(
        pki.inter, [(leaf.cert.serial_number, x509.ReasonFlags.certificate_hold)], number=1
    )
    new = make_crl(pki.inter, [], number=2)
    checker = CRLChecker([old, new])
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker)
    checker_old_only = CRLChecker([old])
    with pytest.raises(RevokedCertificate):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker_old_only)
    checker_old_only.add(new)
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker_old_only)
    rolled = CRLChecker([new])
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=rolled)
    rolled._by_issuer.clear()
    rolled.add(old)
    with pytest.raises(RevocationUnknown, match="rollback"):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=rolled)


def test_chain_scope_checks_intermediates(pki: PKI) -> None:
    """RevocationScope.CHAIN also checks the intermediate against the root's CRL."""
    root_crl = make_crl(pki.root, [(pki.inter.cert.serial_number, x509.ReasonFlags.ca_compromise)])
    inter_crl = make_crl(pki.inter)
    leaf_only = CRLChecker([root_crl, inter_crl])
    verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=leaf_only)
    whole = CRLChecker([root_crl, inter_crl], scope=RevocationScope.CHAIN)
    with pytest.raises(RevokedCertificate) as info:
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=whole)
    assert info.value.revocation_reason == "cACompromise"
    assert "chain[1]" in info.value.reason


def test_crl_checker_config_errors() -> None:
    """Unparseable CRLs and bad options are configuration errors."""
    with pytest.raises(ConfigurationError):
        CRLChecker([b"not a crl"])
    with pytest.raises(ConfigurationError):
        CRLChecker(policy="hard")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        CRLChecker(leeway=dt.timedelta(seconds=-1))


# ------------------------------------------------------------------------------ local server

CRL_TYPE = "application/pkix-crl"
OCSP_TYPE = "application/ocsp-response"


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPKI:
    """The shared loopback PKI: a CA and a 127.0.0.1 server certificate."""
    return make_pki(tmp_path_factory.mktemp("loopback"))


@pytest.fixture
def server(loopback: LoopbackPKI) -> Iterator[Server]:
    """The shared scriptable HTTPS server on 127.0.0.1."""
    yield from serve(loopback)


def crl_fetcher(loopback: LoopbackPKI, **options: Any) -> CRLFetcher:
    return urllib_crl_fetcher(ssl_context=loopback.client_context(), **options)


def ocsp_fetcher(loopback: LoopbackPKI, **options: Any) -> OCSPFetcher:
    return urllib_ocsp_fetcher(ssl_context=loopback.client_context(), **options)


def crl_reply(crl: x509.CertificateRevocationList) -> Reply:
    return Reply(body=crl.public_bytes(serialization.Encoding.DER), content_type=CRL_TYPE)


def test_crl_fetched_from_distribution_point(
    pki: PKI, server: Server, loopback: LoopbackPKI
) -> None:
    """Without a CRL in the pool the distribution points are fetched over HTTPS in turn."""
    leaf = make_leaf(pki.inter, crl_urls=(server.url("/missing.crl"), server.url("/inter.crl")))
    crl = make_crl(pki.inter, [(leaf.cert.serial_number, KEY_COMPROMISE)])
    server.set("/inter.crl", crl_reply(crl))
    checker = CRLChecker(fetch=crl_fetcher(loopback, timeout=5))
    with pytest.raises(RevokedCertificate):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker)
    assert server.hits("/missing.crl") == 1
    assert server.hits("/inter.crl") == 1


def test_crl_fetch_size_cap(pki: PKI, server: Server, loopback: LoopbackPKI) -> None:
    """A response over max_bytes is a FetchError, and the status stays unknown."""
    server.set("/big.crl", Reply(body=b"x" * 5000, content_type=CRL_TYPE))
    fetch = crl_fetcher(loopback, max_bytes=1000)
    with pytest.raises(FetchError, match="larger"):
        fetch(server.url("/big.crl"))
    with pytest.raises(FetchError, match="404"):
        fetch(server.url("/nothing"))
    with pytest.raises(FetchError, match="https"):
        fetch("file:///etc/passwd")
    leaf = make_leaf(pki.inter, crl_urls=(server.url("/big.crl"),))
    with pytest.raises(RevocationUnknown):
        verify_client(
            _chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker(fetch=fetch)
        )


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(body=b"crl", content_type="text/html"), "content type 'text/html'"),
        (Reply(body=b"crl", content_type=None), "content type 'none'"),
        (Reply(status=302, headers=(("Location", "https://example.com/x.crl"),)), "origin"),
        (
            Reply(body=b"crl", content_type=CRL_TYPE, headers=(("Content-Encoding", "gzip"),)),
            "encoding",
        ),
    ],
)
def test_crl_fetcher_has_the_jwks_fetcher_guarantees(
    server: Server, loopback: LoopbackPKI, reply: Reply, reason: str
) -> None:
    """Media type, content encoding and same-origin redirects are checked for CRLs too."""
    server.set("/x.crl", reply)
    with pytest.raises(FetchError, match=reason):
        crl_fetcher(loopback)(server.url("/x.crl"))


def test_crl_fetcher_refuses_plain_http_unless_allowed(pki: PKI, loopback: LoopbackPKI) -> None:
    """Plain http is refused by default, allowed to loopback or to any host when asked."""
    crl = make_crl(pki.inter, [])
    with Server(None) as plain:
        plain.set("/a.crl", crl_reply(crl))
        url = plain.url("/a.crl")
        with pytest.raises(FetchError, match=r"plain http refused .*allow_http=True"):
            crl_fetcher(loopback)(url)
        assert crl_fetcher(loopback, allow_http_loopback=True)(url) == crl_reply(crl).body
        assert crl_fetcher(loopback, allow_http=True)(url) == crl_reply(crl).body
        assert plain.hits("/a.crl") == 2
    with pytest.raises(FetchError, match="loopback"):
        crl_fetcher(loopback, allow_http_loopback=True)("http://crl.example/a.crl")
    leaf = make_leaf(pki.inter, crl_urls=("http://crl.example/a.crl",))
    with pytest.raises(RevocationUnknown, match="CRL fetch failed: plain http refused"):
        CRLChecker(fetch=crl_fetcher(loopback)).check(_chain(pki, leaf), now=NOW)
    with pytest.raises(ConfigurationError):
        urllib_crl_fetcher(timeout=0)
    with pytest.raises(ConfigurationError):
        urllib_ocsp_fetcher(max_bytes=0)


# ---------------------------------------------------------------------------------------- OCSP


def _ocsp_check(pki: PKI, leaf: Issued, response: bytes, **kwargs: object) -> None:
    checker = OCSPChecker(**kwargs)  # type: ignore[arg-type]
    verify_server(
        [leaf.cert, pki.inter.cert],
        trust=pki.trust,
        server_name="leaf.example",
        now=NOW,
        revocation=checker,
        stapled_ocsp=response,
    )


@pytest.fixture(scope="module")
def ocsp_leaf(pki: PKI) -> Issued:
    return make_leaf(pki.inter, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))


def test_stapled_good_response(pki: PKI, ocsp_leaf: Issued) -> None:
    """A good stapled response signed by the issuer passes."""
    _ocsp_check(pki, ocsp_leaf, make_ocsp(ocsp_leaf.cert, pki.inter))


def test_stapled_revoked_response(pki: PKI, ocsp_leaf: Issued) -> None:
    """A revoked response raises RevokedCertificate with reason and date."""
    response = make_ocsp(
        ocsp_leaf.cert,
        pki.inter,
        status=ocsp.OCSPCertStatus.REVOKED,
        revocation_reason=KEY_COMPROMISE,
    )
    with pytest.raises(RevokedCertificate) as info:
        _ocsp_check(pki, ocsp_leaf, response)
    assert info.value.revocation_reason == "keyCompromise"
    assert info.value.revocation_date == NOW - 2 * DAY


def test_delegated_responder(pki: PKI, ocsp_leaf: Issued) -> None:
    """A responder certificate issued by the issuer with id-kp-OCSPSigning is accepted."""
    responder = make_responder(pki.inter)
    _ocsp_check(pki, ocsp_leaf, make_ocsp(ocsp_leaf.cert, pki.inter, responder=responder))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (
            lambda pki, leaf: make_ocsp(
                leaf.cert, pki.inter, responder=make_responder(pki.inter, ocsp_signing=False)
            ),
            "not signed",
        ),
        (
            lambda pki, leaf: make_ocsp(leaf.cert, pki.inter, responder=make_responder(pki.root)),
            "not signed",
        ),
        (
            lambda pki, leaf: make_ocsp(
                leaf.cert, pki.inter, responder=make_responder(pki.inter), include_responder=False
            ),
            "not signed",
        ),
        (
            lambda pki, leaf: make_ocsp(
                leaf.cert, pki.inter, this_update=NOW - 3 * DAY, next_update=NOW - DAY
            ),
            "stale",
        ),
        (
            lambda pki, leaf: make_ocsp(
                leaf.cert, pki.inter, this_update=NOW + DAY, next_update=NOW + 2 * DAY
            ),
            "future",
        ),
        (
            lambda pki, leaf: make_ocsp(
                leaf.cert, pki.inter, this_update=NOW - 8 * DAY, next_update=None
            ),
            "stale",
        ),
        (lambda pki, _leaf: make_ocsp(pki.client.cert, pki.inter), "no answer"),
        (
            lambda pki, leaf: make_ocsp(leaf.cert, pki.inter, status=ocsp.OCSPCertStatus.UNKNOWN),
            "does not know",
        ),
        (
            lambda _pki, _leaf: ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.TRY_LATER
            ).public_bytes(serialization.Encoding.DER),
            "TRY_LATER",
        ),
        (lambda _pki, _leaf: b"garbage", "cannot be parsed"),
    ],
    ids=[
        "responder-no-eku",
        "responder-wrong-issuer",
        "responder-missing",
        "stale",
        "future",
        "no-next-update-too-old",
        "other-cert",
        "unknown",
        "try-later",
        "garbage",
    ],
)
def test_unusable_ocsp_response(
    pki: PKI, ocsp_leaf: Issued, make: Callable[[PKI, Issued], bytes], fragment: str
) -> None:
    """An OCSP response breaking an RFC 6960 rule gives unknown status (hard-fail raises)."""
    with pytest.raises(RevocationUnknown, match=fragment):
        _ocsp_check(pki, ocsp_leaf, make(pki, ocsp_leaf))
    _ocsp_check(pki, ocsp_leaf, make(pki, ocsp_leaf), policy=RevocationPolicy.SOFT_FAIL)


def test_ocsp_tampered_signature(pki: PKI, ocsp_leaf: Issued) -> None:
    """A response whose signature bytes were altered is not used."""
    response = bytearray(make_ocsp(ocsp_leaf.cert, pki.inter))
    response[-5] ^= 0x01
    with pytest.raises(RevocationUnknown):
        _ocsp_check(pki, ocsp_leaf, bytes(response))


def test_ocsp_request_builder(pki: PKI) -> None:
    """build_ocsp_request yields a parseable request with the CertID and nonce."""
    der = build_ocsp_request(pki.client.cert, pki.inter.cert, nonce=b"n" * 16)
    request = ocsp.load_der_ocsp_request(der)
    assert request.serial_number == pki.client.cert.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    with pytest.raises(ConfigurationError):
        build_ocsp_request(pki.client.cert, pki.inter.cert, nonce=b"")


def test_ocsp_fetch_with_nonce(pki: PKI, server: Server, loopback: LoopbackPKI) -> None:
    """Fetched responses must echo the request nonce; good answers are then cached."""
    leaf = make_leaf(pki.inter, ocsp_urls=(server.url("/ocsp"),))

    def echo(body: bytes) -> Reply:
        nonce = (
            ocsp.load_der_ocsp_request(body)
            .extensions.get_extension_for_class(x509.OCSPNonce)
            .value.nonce
        )
        return Reply(body=make_ocsp(leaf.cert, pki.inter, nonce=nonce), content_type=OCSP_TYPE)

    server.set("/ocsp", echo)
    checker = OCSPChecker(fetch=ocsp_fetcher(loopback), nonce=True)
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker)
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker)
    assert server.hits("/ocsp", method="POST") == 1

    wrong = make_ocsp(leaf.cert, pki.inter, nonce=b"x" * 16)
    server.set("/ocsp", Reply(body=wrong, content_type=OCSP_TYPE))
    with pytest.raises(RevocationUnknown, match="nonce"):
        verify_client(
            _chain(pki, leaf),
            trust=pki.trust,
            now=NOW,
            revocation=OCSPChecker(fetch=ocsp_fetcher(loopback), nonce=True),
        )
    server.set("/ocsp", Reply(status=500))
    with pytest.raises(RevocationUnknown, match="500"):
        verify_client(
            _chain(pki, leaf),
            trust=pki.trust,
            now=NOW,
            revocation=OCSPChecker(fetch=ocsp_fetcher(loopback)),
        )


def test_ocsp_fetch_with_get(pki: PKI, server: Server, loopback: LoopbackPKI) -> None:
    """use_get sends a short request as base64 in the path (RFC 5019); POST is not used."""
    leaf = make_leaf(pki.inter, ocsp_urls=(server.url("/ocsp"),))
    request = build_ocsp_request(leaf.cert, pki.inter.cert)
    path = "/ocsp/" + urllib.parse.quote(base64.b64encode(request).decode(), safe="")
    server.set(path, Reply(body=make_ocsp(leaf.cert, pki.inter), content_type=OCSP_TYPE))
    checker = OCSPChecker(fetch=ocsp_fetcher(loopback, use_get=True))
    verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=checker)
    assert server.hits(path, method="GET") == 1
    assert server.hits("/ocsp", method="POST") == 0


def test_ocsp_fetcher_checks_media_type_and_refuses_post_redirects(
    server: Server, loopback: LoopbackPKI
) -> None:
    """The OCSP fetcher accepts only application/ocsp-response and never redirects a POST."""
    fetch = ocsp_fetcher(loopback)
    server.set("/ocsp", Reply(body=b"der", content_type="application/json"))
    with pytest.raises(FetchError, match="content type"):
        fetch(server.url("/ocsp"), b"request")
    server.set("/ocsp", Reply(status=307, headers=(("Location", server.url("/other")),)))
    with pytest.raises(FetchError, match="redirect"):
        fetch(server.url("/ocsp"), b"request")
    assert server.hits("/other") == 0


def test_ocsp_without_staple_or_fetcher(pki: PKI) -> None:
    """No staple and no fetcher is unknown under hard-fail and passes under soft-fail."""
    with pytest.raises(RevocationUnknown):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=OCSPChecker())
    verify_client(
        _chain(pki),
        trust=pki.trust,
        now=NOW,
        revocation=OCSPChecker(policy=RevocationPolicy.SOFT_FAIL),
    )
    with pytest.raises(ConfigurationError):
        OCSPChecker(max_age=dt.timedelta(seconds=-1))


def _idp(**kwargs: object) -> x509.IssuingDistributionPoint:
    fields: dict[str, object] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    fields.update(kwargs)
    return x509.IssuingDistributionPoint(**fields)  # type: ignore[arg-type]


_URL = "http://crl.example/inter.crl"


@pytest.mark.parametrize(
    ("idp", "leaf_urls", "fragment"),
    [
        (_idp(indirect_crl=True), (), "indirect"),
        (_idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})), (), "by reason"),
        (_idp(only_contains_attribute_certs=True), (), "attribute"),
        (_idp(full_name=[x509.UniformResourceIdentifier(_URL)]), (), "names no distribution point"),
        (
            _idp(full_name=[x509.UniformResourceIdentifier(_URL)]),
            ("http://other.example/x.crl",),
            "does not cover",
        ),
        (
            _idp(
                relative_name=x509.RelativeDistinguishedName(
                    [x509.NameAttribute(x509.NameOID.COMMON_NAME, "dp")]
                )
            ),
            (),
            "relative name",
        ),
    ],
    ids=["indirect", "reasons", "attribute", "no-dp", "other-dp", "relative"],
)
def test_issuing_distribution_point_scope(
    pki: PKI, idp: x509.IssuingDistributionPoint, leaf_urls: tuple[str, ...], fragment: str
) -> None:
    """An issuingDistributionPoint that does not cover the leaf, or is unsupported, is not used."""
    leaf = make_leaf(pki.inter, crl_urls=leaf_urls)
    crl = make_crl(pki.inter, extra=[(idp, True)])
    with pytest.raises(RevocationUnknown, match=fragment):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))


def test_issuing_distribution_point_matching(pki: PKI) -> None:
    """A partitioned CRL naming the leaf's distribution point is used; user-only CRLs skip CAs."""
    leaf = make_leaf(pki.inter, crl_urls=(_URL,))
    crl = make_crl(
        pki.inter,
        [(leaf.cert.serial_number, KEY_COMPROMISE)],
        extra=[(_idp(full_name=[x509.UniformResourceIdentifier(_URL)]), True)],
    )
    with pytest.raises(RevokedCertificate):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))
    users_only = make_crl(pki.root, extra=[(_idp(only_contains_user_certs=True), True)])
    checker = CRLChecker([users_only, make_crl(pki.inter)], scope=RevocationScope.CHAIN)
    with pytest.raises(RevocationUnknown, match="end-entity"):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=checker)


def test_crl_aki_mismatch_and_entry_critical_extension(pki: PKI) -> None:
    """A CRL naming another key, or an entry with an unknown critical extension, is not used."""
    other = make_ca("Test Intermediate")  # same name, different key
    forged = make_crl(pki.inter, signer=other.key)
    with pytest.raises(RevocationUnknown):
        verify_client(_chain(pki), trust=pki.trust, now=NOW, revocation=CRLChecker([forged]))

    leaf = make_leaf(pki.inter)
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.cert.serial_number)
        .revocation_date(NOW - DAY)
        .add_extension(x509.CertificateIssuer([x509.DNSName("other.example")]), critical=True)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.inter.cert.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
        .add_extension(x509.CRLNumber(5), critical=False)
        .add_revoked_certificate(entry)
        .sign(pki.inter.key, hashes.SHA256())
    )
    with pytest.raises(RevocationUnknown, match="entry"):
        verify_client(_chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker([crl]))


def test_non_http_distribution_points_are_not_fetched(pki: PKI) -> None:
    """Only http(s) distribution points reach the fetcher."""
    seen: list[str] = []

    def fetch(url: str, /) -> bytes:
        seen.append(url)
        raise FetchError("offline")

    leaf = make_leaf(pki.inter, crl_urls=("ldap://dir.example/cn=crl", "http://crl.example/a.crl"))
    with pytest.raises(RevocationUnknown):
        verify_client(
            _chain(pki, leaf), trust=pki.trust, now=NOW, revocation=CRLChecker(fetch=fetch)
        )
    assert seen == ["http://crl.example/a.crl"]


def test_ocsp_responder_by_name_and_unknown_critical_extension(pki: PKI, ocsp_leaf: Issued) -> None:
    """A response identified by responder name verifies; an unknown critical extension does not."""
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=ocsp_leaf.cert,
        issuer=pki.inter.cert,
        algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash
        cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=NOW - DAY,
        next_update=NOW + DAY,
        revocation_time=None,
        revocation_reason=None,
    )
    by_name = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, pki.inter.cert)
    der = by_name.sign(pki.inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    _ocsp_check(pki, ocsp_leaf, der)
    odd = by_name.add_extension(
        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), critical=True
    )
    der = odd.sign(pki.inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    with pytest.raises(RevocationUnknown, match="critical"):
        _ocsp_check(pki, ocsp_leaf, der)


def test_ocsp_chain_scope_and_no_responder_url(pki: PKI, ocsp_leaf: Issued) -> None:
    """CHAIN scope asks about the intermediate too; without an AIA URL the status is unknown."""
    stapled = make_ocsp(ocsp_leaf.cert, pki.inter)
    with pytest.raises(RevocationUnknown, match=r"chain\[1\].*no OCSP responder URL"):
        _ocsp_check(
            pki, ocsp_leaf, stapled, fetch=urllib_ocsp_fetcher(), scope=RevocationScope.CHAIN
        )


def test_rollback_is_tracked_per_partition(pki: PKI) -> None:
    """Numbers of different distribution-point partitions do not count as rollbacks."""
    dp_a, dp_b = "http://crl.example/a.crl", "http://crl.example/b.crl"
    leaf_a = make_leaf(pki.inter, crl_urls=(dp_a,))
    leaf_b = make_leaf(pki.inter, crl_urls=(dp_b,))
    crl_a = make_crl(
        pki.inter, number=10, extra=[(_idp(full_name=[x509.UniformResourceIdentifier(dp_a)]), True)]
    )
    crl_b = make_crl(
        pki.inter, number=3, extra=[(_idp(full_name=[x509.UniformResourceIdentifier(dp_b)]), True)]
    )
    checker = CRLChecker([crl_a, crl_b])
    verify_client(_chain(pki, leaf_a), trust=pki.trust, now=NOW, revocation=checker)
    verify_client(_chain(pki, leaf_b), trust=pki.trust, now=NOW, revocation=checker)


@settings(max_examples=150)
@given(noise=st.binary(min_size=1, max_size=16))
def test_corrupted_stapled_ocsp_only_raises_authcore_errors(
    pki: PKI, ocsp_leaf: Issued, noise: bytes
) -> None:
    """A stapled OCSP response with bytes overwritten passes or fails with a typed error only."""
    response = bytearray(make_ocsp(ocsp_leaf.cert, pki.inter))
    offset = noise[0] % len(response)
    response[offset : offset + len(noise) - 1] = noise[1:]
    try:
        _ocsp_check(pki, ocsp_leaf, bytes(response))
    except AuthcoreError:
        pass


# ------------------------------------------------------------------- bounded revocation fetching


class CountingFetch:
    """A CRL fetcher that serves scripted answers and counts calls."""

    def __init__(self, answer: Callable[[int], bytes]) -> None:
        self.calls = 0
        self._answer = answer

    def __call__(self, url: str, /) -> bytes:
        del url
        self.calls += 1
        return self._answer(self.calls)


def _der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def _unreachable(_: int) -> bytes:
    raise FetchError("connection refused")


def test_forged_fetched_crls_are_discarded_at_once(pki: PKI) -> None:
    """CRLs carrying the issuer's name but signed by another key are never kept."""
    leaf = make_leaf(pki.inter, crl_urls=("https://crl.example/inter.crl",))
    forger = ec_key()
    fetch = CountingFetch(lambda n: _der(make_crl(pki.inter, number=n, signer=forger)))
    checker = CRLChecker(
        fetch=fetch, policy=RevocationPolicy.SOFT_FAIL, negative_ttl=dt.timedelta(0)
    )
    for _ in range(30):
        checker.check(_chain(pki, leaf), now=NOW)
    assert fetch.calls == 30  # negative caching off: every verification fetched
    assert checker._fetched == {}  # what is held is the point of the test
    assert checker._static_cache == {}
    assert checker._by_issuer == {}


def test_only_the_newest_usable_fetched_crl_is_kept(pki: PKI) -> None:
    """Each refetch replaces the held CRL of that issuer; one CRL is held whatever the count."""
    leaf = make_leaf(pki.inter, crl_urls=("https://crl.example/inter.crl",))

    def answer(n: int) -> bytes:
        start = NOW + (n - 1) * 2 * DAY
        return _der(make_crl(pki.inter, number=n, this_update=start, next_update=start + DAY))

    fetch = CountingFetch(answer)
    checker = CRLChecker(fetch=fetch)
    for day in range(10):
        at = NOW + day * 2 * DAY + dt.timedelta(hours=1)
        checker.check(_chain(pki, leaf), now=at)
        checker.check(_chain(pki, leaf), now=at)  # served from the held CRL
    assert fetch.calls == 10
    held = checker._fetched  # what is held is the point of the test
    assert [len(scopes) for scopes in held.values()] == [1]
    assert next(iter(next(iter(held.values())).values()))[0] == 10
    assert len(checker._static_cache) == 1


def test_an_older_fetched_crl_does_not_replace_a_newer_one(pki: PKI) -> None:
    """A fetched CRL with a lower number than the held one is dropped (no rollback)."""
    leaf = make_leaf(pki.inter, crl_urls=("https://crl.example/a.crl", "https://crl.example/b.crl"))
    newer = _der(make_crl(pki.inter, number=7, next_update=NOW + DAY))
    older = _der(make_crl(pki.inter, number=3))
    fetch = CountingFetch(lambda n: newer if n == 1 else older)
    checker = CRLChecker(fetch=fetch, negative_ttl=dt.timedelta(0))
    checker.check(_chain(pki, leaf), now=NOW)
    with pytest.raises(RevocationUnknown):
        checker.check(_chain(pki, leaf), now=NOW + 2 * DAY)  # held one stale, b.crl older
    held = checker._fetched  # what is held is the point of the test
    assert [number for scopes in held.values() for number, _ in scopes.values()] == [7]


@pytest.mark.parametrize("answer", [_unreachable, lambda _: b"not a CRL"])
def test_failed_crl_fetches_are_cached_negatively(pki: PKI, answer: Callable[[int], bytes]) -> None:
    """100 verifications against a failing distribution point cost one fetch per negative_ttl."""
    leaf = make_leaf(pki.inter, crl_urls=("https://crl.example/inter.crl",))
    fetch = CountingFetch(answer)
    checker = CRLChecker(
        fetch=fetch, policy=RevocationPolicy.SOFT_FAIL, negative_ttl=dt.timedelta(seconds=30)
    )
    for _ in range(100):
        checker.check(_chain(pki, leaf), now=NOW)
    assert fetch.calls == 1
    hard = CRLChecker(fetch=fetch)  # the memory belongs to the checker: this one fetches
    with pytest.raises(RevocationUnknown):
        hard.check(_chain(pki, leaf), now=NOW)
    with pytest.raises(RevocationUnknown, match="failed recently"):
        hard.check(_chain(pki, leaf), now=NOW)
    assert fetch.calls == 2
    checker.check(_chain(pki, leaf), now=NOW + dt.timedelta(seconds=31))
    assert fetch.calls == 3
    checker.check(_chain(pki, leaf), now=NOW - dt.timedelta(seconds=1))  # clock moved back
    assert fetch.calls == 4
    assert len(checker._failures) == 1  # one URL remembered


def test_remembered_failures_are_bounded(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative cache keeps at most its bound of URLs, dropping the oldest."""
    monkeypatch.setattr("authcore.mtls._revocation._MAX_REMEMBERED_FAILURES", 3)
    urls = tuple(f"https://crl.example/{i}.crl" for i in range(5))
    leaf = make_leaf(pki.inter, crl_urls=urls)
    fetch = CountingFetch(_unreachable)
    checker = CRLChecker(fetch=fetch, policy=RevocationPolicy.SOFT_FAIL)
    checker.check(_chain(pki, leaf), now=NOW)
    assert fetch.calls == 5
    assert len(checker._failures) == 3
    remembered = make_leaf(pki.inter, crl_urls=urls[2:])
    checker.check(_chain(pki, remembered), now=NOW)
    assert fetch.calls == 5  # the three newest failures are remembered
    forgotten = make_leaf(pki.inter, crl_urls=urls[:1])
    checker.check(_chain(pki, forgotten), now=NOW)
    assert fetch.calls == 6  # the oldest was dropped: tried again


class CountingOCSP:
    """An OCSP fetcher that serves a scripted answer and counts calls."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.calls = 0
        self._answer = answer

    def __call__(self, url: str, request: bytes, /) -> bytes:
        del url
        self.calls += 1
        return self._answer(request)


def _ocsp_down(_: bytes) -> bytes:
    raise FetchError("timed out")


def test_unreachable_ocsp_responder_is_cached_negatively(pki: PKI) -> None:
    """A responder that fails is asked once per negative_ttl, whatever the certificates."""
    leaves = [make_leaf(pki.inter, ocsp_urls=("https://ocsp.example",)) for _ in range(3)]
    fetch = CountingOCSP(_ocsp_down)
    checker = OCSPChecker(fetch=fetch, policy=RevocationPolicy.SOFT_FAIL)
    for _ in range(100):
        for leaf in leaves:
            checker.check(_chain(pki, leaf), now=NOW)
    assert fetch.calls == 1
    hard = OCSPChecker(fetch=fetch)
    with pytest.raises(RevocationUnknown, match="fetch failed"):
        hard.check(_chain(pki, leaves[0]), now=NOW)
    with pytest.raises(RevocationUnknown, match="failed recently"):
        hard.check(_chain(pki, leaves[1]), now=NOW)
    assert fetch.calls == 2
    checker.check(_chain(pki, leaves[0]), now=NOW + dt.timedelta(minutes=2))
    assert fetch.calls == 3


def test_unusable_ocsp_answers_are_cached_negatively_per_certificate(pki: PKI) -> None:
    """An unusable answer about one certificate is not asked again; others still are."""
    forger = make_ca("Forger")
    one, two = (make_leaf(pki.inter, ocsp_urls=("https://ocsp.example",)) for _ in range(2))
    fetch = CountingOCSP(lambda _: make_ocsp(one.cert, pki.inter, responder=forger))
    checker = OCSPChecker(fetch=fetch, policy=RevocationPolicy.SOFT_FAIL)
    for _ in range(100):
        checker.check(_chain(pki, one), now=NOW)
    assert fetch.calls == 1
    checker.check(_chain(pki, two), now=NOW)
    assert fetch.calls == 2
    assert checker._cache == {}  # nothing unusable is kept


def test_ocsp_answer_cache_is_bounded(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Good answers are cached up to the bound; the oldest go first."""
    monkeypatch.setattr("authcore.mtls._revocation._MAX_OCSP_ANSWERS", 3)
    leaves = [make_leaf(pki.inter, ocsp_urls=("https://ocsp.example",)) for _ in range(5)]
    by_serial = {leaf.cert.serial_number: leaf for leaf in leaves}

    def answer(request: bytes) -> bytes:
        serial = ocsp.load_der_ocsp_request(request).serial_number
        return make_ocsp(by_serial[serial].cert, pki.inter)

    fetch = CountingOCSP(answer)
    checker = OCSPChecker(fetch=fetch)
    for leaf in leaves:
        checker.check(_chain(pki, leaf), now=NOW)
    assert len(checker._cache) == 3
    checker.check(_chain(pki, leaves[-1]), now=NOW)  # still cached
    assert fetch.calls == 5
    checker.check(_chain(pki, leaves[0]), now=NOW)  # evicted: asked again
    assert fetch.calls == 6


def test_negative_ttl_must_be_a_timedelta() -> None:
    """negative_ttl is a non-negative timedelta on both checkers."""
    with pytest.raises(ConfigurationError, match="negative_ttl"):
        CRLChecker(negative_ttl=30)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="negative_ttl"):
        OCSPChecker(negative_ttl=dt.timedelta(seconds=-1))


# ----------------------------------------------------------- typed failures on hostile OCSP/CRL

P256_OID = bytes.fromhex("06082a8648ce3d030107")
SHA1_OID = bytes.fromhex("06052b0e03021a")


def _splice(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new)


def _good_answer(
    cert: x509.Certificate, issuer: x509.Certificate, encoding: ocsp.OCSPResponderEncoding
) -> ocsp.OCSPResponseBuilder:
    """An unsigned "good" answer about ``cert``, the issuer being the responder."""
    return (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=issuer,
            algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash responders use
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - DAY,
            next_update=NOW + DAY,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(encoding, issuer)
    )


def _statuses_never_raise(
    leaf: x509.Certificate, issuer: x509.Certificate, response: bytes
) -> list[str]:
    """The problems both policies report for a stapled ``response`` (each must be typed)."""
    problems = []
    for policy in RevocationPolicy:
        checker = OCSPChecker(policy=policy)
        status = checker.status(leaf, issuer, now=NOW, stapled=response)
        assert status.problem is not None
        problems.append(status.problem)
        if policy is RevocationPolicy.HARD_FAIL:
            with pytest.raises(RevocationUnknown):
                checker.check([leaf, issuer], now=NOW, stapled_ocsp=response)
        else:
            checker.check([leaf, issuer], now=NOW, stapled_ocsp=response)
    return problems


@pytest.mark.parametrize("damage", [b"\xff\xfe", b"\x02"], ids=["invalid-utf8", "wrong-string-tag"])
def test_stapled_response_with_malformed_responder_name(pki: PKI, damage: bytes) -> None:
    """A responder name that cannot be parsed is an unusable response, under both policies."""
    leaf = make_leaf(pki.inter)
    builder = _good_answer(leaf.cert, pki.inter.cert, ocsp.OCSPResponderEncoding.NAME)
    der = builder.sign(pki.inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    at = der.index(b"Test Intermediate")
    if damage == b"\x02":  # the CN's UTF8String tag becomes INTEGER
        broken = der[: at - 2] + damage + der[at - 1 :]
    else:
        broken = der[:at] + damage + der[at + len(damage) :]
    problems = _statuses_never_raise(leaf.cert, pki.inter.cert, broken)
    assert all("responder id cannot be parsed" in p for p in problems)


@pytest.mark.parametrize("change", ["curve", "point"])
def test_embedded_responder_with_changed_key(pki: PKI, change: str) -> None:
    """An embedded responder certificate whose key cannot be read is skipped, never raised."""
    leaf = make_leaf(pki.inter)
    responder = make_responder(pki.inter)
    der = make_ocsp(leaf.cert, pki.inter, responder=responder)
    original = responder.cert.public_bytes(serialization.Encoding.DER)
    if change == "curve":
        tampered = _splice(original, P256_OID, P256_OID[:-1] + b"\x08")
    else:
        point = responder.cert.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        tampered = _splice(original, point, point[:-1] + bytes([point[-1] ^ 1]))
    problems = _statuses_never_raise(leaf.cert, pki.inter.cert, _splice(der, original, tampered))
    assert all("not signed by the issuer or its responder" in p for p in problems)


def test_unknown_certid_hash_algorithm() -> None:
    """A signed response whose CertID hash cryptography does not know is unusable, typed."""
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca = issue(
        "Ed CA",
        ca_key,
        serial=1,
        not_before=NOW - DAY,
        not_after=NOW + DAY,
        extensions=((x509.BasicConstraints(ca=True, path_length=None), True),),
    )
    leaf = issue(
        "leaf", ec_key(), issuer=(ca, ca_key), serial=2, not_before=NOW - DAY, not_after=NOW + DAY
    )
    response = _good_answer(leaf, ca, ocsp.OCSPResponderEncoding.HASH).sign(ca_key, None)
    der = response.public_bytes(serialization.Encoding.DER)
    tbs = response.tbs_response_bytes
    # Re-sign the tampered data: an Ed25519 signature keeps its length, so only bytes change.
    odd_tbs = _splice(tbs, SHA1_OID, SHA1_OID[:-1] + b"\x1b")
    odd = _splice(der, tbs, odd_tbs)
    odd = odd[:-64] + ca_key.sign(odd_tbs)
    problems = _statuses_never_raise(leaf, ca, odd)
    assert all("unsupported CertID hash algorithm" in p for p in problems)


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """``count`` damaged copies of ``data``: bit flips, overwrites, cuts, repeats, deletions."""
    for _ in range(count):
        out = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(out))
            kind = rng.randrange(5)
            if kind == 0:
                out[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                out[at] = rng.randrange(256)
            elif kind == 2:
                del out[at:]
                if not out:
                    out = bytearray(b"\x30")
            elif kind == 3:
                out[at:at] = out[at : at + rng.randint(1, 16)]
            else:
                del out[at : at + rng.randint(1, 16)]
        yield bytes(out)


FUZZ_SEED = 20261203
FUZZ_CASES = 250


def test_mutated_ocsp_responses_only_give_typed_results(pki: PKI) -> None:
    """Damaged OCSP responses (fixed seed) give a status or a typed error, never an escape."""
    rng = random.Random(FUZZ_SEED)  # noqa: S311 - a reproducible fuzz, not a secret
    leaf = make_leaf(pki.inter, ocsp_urls=("https://ocsp.example",))
    responder = make_responder(pki.inter)
    seeds = [
        make_ocsp(leaf.cert, pki.inter),
        make_ocsp(leaf.cert, pki.inter, responder=responder, nonce=b"n" * 16),
        make_ocsp(leaf.cert, pki.inter, status=ocsp.OCSPCertStatus.REVOKED),
    ]
    for seed in seeds:
        for damaged in _mutations(seed, rng, FUZZ_CASES):
            for policy in RevocationPolicy:
                checker = OCSPChecker(policy=policy, fetch=lambda _u, _r, d=damaged: d)
                try:
                    checker.check(_chain(pki, leaf), now=NOW, stapled_ocsp=damaged)
                except AuthcoreError:
                    pass


def test_mutated_crls_only_give_typed_results(pki: PKI) -> None:
    """Damaged CRLs (fixed seed), given or fetched, give a status or a typed error only."""
    rng = random.Random(FUZZ_SEED)  # noqa: S311 - a reproducible fuzz, not a secret
    leaf = make_leaf(pki.inter, crl_urls=("https://crl.example/inter.crl",))
    seed = _der(make_crl(pki.inter, [(leaf.cert.serial_number, KEY_COMPROMISE)]))
    for damaged in _mutations(seed, rng, FUZZ_CASES):
        fetched = CRLChecker(fetch=lambda _u, d=damaged: d, negative_ttl=dt.timedelta(0))
        try:
            fetched.check(_chain(pki, leaf), now=NOW)
        except AuthcoreError:
            pass
        try:
            given_crl = CRLChecker([damaged])
        except ConfigurationError:
            continue
        try:
            given_crl.check(_chain(pki, leaf), now=NOW)
        except AuthcoreError:
            pass
