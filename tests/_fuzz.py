"""Mutation fuzzing of trust boundaries: whatever a peer sends ends in a typed error.

A :class:`Target` is one public entry point fed one mutated input, with seed inputs of the
right shape (valid values, so mutations land near the interesting paths) and the error class
it may raise: :class:`~authcore.errors.VerificationError` where a peer controls the input
(a configuration error there would blame the caller for the peer's bytes), any
:class:`~authcore.errors.AuthcoreError` for caller-supplied configuration.  Anything else,
including a warning, is an *escape*.

Mutations are deterministic for a seed: the CI tests (``tests/core/test_fuzz_http.py``,
``tests/mtls/test_fuzz.py``) run a fixed seed and a bounded count; ``python -m
benchmarks.fuzz_long`` runs as long as asked and prints what it tried and every escape.

The mutator works on text or bytes alike: it replaces, inserts, deletes, repeats and splices
ranges, and inserts tokens known to break parsers (stray ``%``, escapes of bytes that are not
UTF-8, lone surrogates, quotes, separators, brackets, PEM armour, DER length prefixes).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import random
import urllib.parse
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.errors import AuthcoreError, VerificationError
from authcore.http import Headers, Request, parse_authorization, parse_basic, parse_form
from authcore.http import percent_decode as _percent_decode
from authcore.mtls import (
    SpiffeId,
    TlsClientAuth,
    TrustStore,
    chain_from_asgi,
    chain_from_headers,
    check_binding,
    load_chain,
    load_crl,
    thumbprint,
    verify_client,
    verify_server,
)
from tests.mtls._pki import NOW, make_ca, make_leaf, pem_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

Data = str | bytes

MAX_LENGTH = 1 << 16
"""Longest mutated input (the size caps themselves have their own tests)."""

_TEXT_TOKENS = (
    "%",
    "%F",
    "%FF",
    "%ff",
    "%C3",
    "%C3%28",
    "%ED%A0%80",
    "%F4%90%80%80",
    "%2D%2D",
    "%2d%2d",
    "%0A",
    "%00",
    "%zz",
    "%25",
    "%3D",
    "%22",
    "+",
    "=",
    "==",
    "&",
    ";",
    ",",
    '"',
    "\\",
    '\\"',
    " ",
    "\t",
    "[",
    "]",
    "[::1]",
    ":",
    "/",
    "?",
    "#",
    "@",
    "\x00",
    "\r\n",
    "\n",
    "\x7f",
    "\x80",
    "\ud800",
    "\udfff",
    "\u00e9",
    "\uff03",
    "\u2100",
    "\ufffd",
    "-----BEGIN CERTIFICATE-----\n",
    "-----END CERTIFICATE-----\n",
    "-----BEGIN X509 CRL-----\n",
    "Cert=",
    "Chain=",
    "By=",
    "Hash=",
    "URI=",
    "Basic ",
    "Bearer ",
    "spiffe://",
    "CN=",
    "+CN=",
    "#04",
    "0" * 40,
)
_BYTE_TOKENS = (
    b"\x30\x82\xff\xff",
    b"\x30\x80",
    b"\x30\x00",
    b"\x06\x03\x55\x04\x03",
    b"\x0c\x02\xff\xfe",
    b"\x13\x01\x00",
    b"\xa0\x03\x02\x01\x05",
    b"\x02\x01\x00",
    b"\x02\x09\xff" + b"\xff" * 8,
    b"\x01\x01\x00",
    b"\x05\x00",
    b"\xff",
    b"\x00",
    b"\x80",
    b"\xc3",
    b"\xed\xa0\x80",
    *(t.encode("utf-8", "surrogatepass") for t in _TEXT_TOKENS),
)
_CODEPOINTS = (
    (0x00, 0x7F),
    (0x80, 0xFF),
    (0x100, 0x2FFF),
    (0xD800, 0xDFFF),
    (0xFF00, 0xFFFF),
    (0x10000, 0x10FFFF),
)


@dataclass(frozen=True, slots=True)
class Target:
    """One entry point under fuzz.

    Attributes:
        name: A stable name, printed with escapes.
        call: Feeds one input to the entry point.
        seeds: Inputs of the right shape to mutate.
        allowed: The error class the entry point may raise.
    """

    name: str
    call: Callable[[Any], object]
    seeds: tuple[Data, ...]
    allowed: type[Exception] = VerificationError


@dataclass(frozen=True, slots=True)
class Escape:
    """An input that ended in something other than the target's allowed error."""

    target: str
    data: Data
    error: str

    def __str__(self) -> str:
        shown = repr(self.data)
        if len(shown) > 300:
            shown = shown[:300] + "..."
        return f"{self.target}: {self.error} on {shown}"


def _random_char(rng: random.Random) -> str:
    low, high = rng.choice(_CODEPOINTS)
    return chr(rng.randint(low, high))


def _piece(rng: random.Random, *, text: bool) -> Data:
    """A token, a random character or byte, or a short random run."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(_TEXT_TOKENS) if text else rng.choice(_BYTE_TOKENS)
    if roll < 0.85:
        return _random_char(rng) if text else bytes([rng.randrange(256)])
    if text:
        return "".join(_random_char(rng) for _ in range(rng.randint(1, 8)))
    return rng.randbytes(rng.randint(1, 8))


def _span(rng: random.Random, size: int) -> tuple[int, int]:
    start = rng.randint(0, size)
    return start, min(size, start + rng.choice((1, 1, 2, 4, 16, 64, 512)))


def _transcode(rng: random.Random, part: Data) -> Data:
    """Percent-encode or -decode a range, so escapes move in and out of the payload."""
    if isinstance(part, bytes):
        return urllib.parse.quote_from_bytes(part).encode("ascii")
    if rng.random() < 0.5:
        return urllib.parse.quote(part, safe="", errors="surrogatepass")
    return urllib.parse.unquote(part, errors="surrogateescape")


def mutate(rng: random.Random, data: Data, seeds: Sequence[Data]) -> Data:
    """Apply one to four random edits to ``data`` (text stays text, bytes stay bytes)."""
    text = isinstance(data, str)
    out: Any = data
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        size = len(out)
        start, end = _span(rng, size)
        op = rng.randrange(8)
        if op == 0:  # replace a range
            out = out[:start] + _piece(rng, text=text) + out[end:]
        elif op == 1:  # insert
            out = out[:start] + _piece(rng, text=text) + out[start:]
        elif op == 2:  # delete
            out = out[:start] + out[end:]
        elif op == 3:  # repeat a range
            out = out[:end] + out[start:end] * rng.choice((2, 3, 16, 200)) + out[end:]
        elif op == 4:  # splice with another seed of the same kind
            other = rng.choice([s for s in seeds if isinstance(s, type(data))] or [data])
            out = out[:start] + other[rng.randint(0, len(other)) :]
        elif op == 5:  # truncate
            out = out[:start]
        elif op == 6:
            out = out[:start] + _transcode(rng, out[start:end]) + out[end:]
        elif text:  # swap case of a range (hex digits, scheme names, PEM armour)
            out = out[:start] + out[start:end].swapcase() + out[end:]
        elif size:  # flip one bit
            at = rng.randrange(size)
            out = out[:at] + bytes([out[at] ^ (1 << rng.randrange(8))]) + out[at + 1 :]
        if len(out) > MAX_LENGTH:
            out = out[:MAX_LENGTH]
    return out  # type: ignore[no-any-return]


def attempt(target: Target, data: Data) -> Escape | None:
    """Feed one input; return the escape, if it was one.  Warnings count as escapes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            target.call(data)
    except target.allowed:
        return None
    except Exception as exc:  # noqa: BLE001 - anything else is exactly what is looked for
        return Escape(target.name, data, f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
    return None


def run(targets: Sequence[Target], *, seed: int, count: int) -> tuple[int, list[Escape]]:
    """Try ``count`` mutated inputs per target, from ``seed``; return (tried, escapes).

    Each target also gets its seeds unmutated first, so a broken seed is noticed.
    """
    escapes: list[Escape] = []
    tried = 0
    for index, target in enumerate(targets):
        rng = random.Random(f"{seed}:{index}:{target.name}")  # noqa: S311 - reproducible, not secret
        inputs: Iterable[Data] = (
            *target.seeds,
            *(mutate(rng, rng.choice(target.seeds), target.seeds) for _ in range(count)),
        )
        for data in inputs:
            tried += 1
            escape = attempt(target, data)
            if escape is not None:
                escapes.append(escape)
    return tried, escapes


CI_SEED = 20261203
"""The seed the CI tests run with."""


def assert_no_escape(target: Target, *, count: int, seed: int = CI_SEED) -> None:
    """Run ``count`` mutations of ``target`` (and its seeds); fail listing the first escapes."""
    tried, escapes = run([target], seed=seed, count=count)
    assert tried == count + len(target.seeds)
    assert not escapes, "\n".join(map(str, escapes[:5]))


# ------------------------------------------------------------------------------ HTTP targets

_FORM_SEEDS = (
    "grant_type=authorization_code&code=Spl%20xA&redirect_uri=https%3A%2F%2Fc.example%2Fcb",
    "client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw&scope=read+write",
    "a=&b=%C3%A9&c=%2B%25",
    "",
)
_URL_SEEDS = (
    "https://as.example/authorize?response_type=code&client_id=s6&state=xyz&scope=a+b",
    "https://[2001:db8::1]:8443/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj",
    "http://localhost/cb?error=access_denied&error_description=the+user%20said+no",
    "https://user:pw@example.com:443/p;x?q=%E2%82%AC#frag",
)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


_AUTHORIZATION_SEEDS = (
    "Bearer mF_9.B5f-4.1JqM",
    "DPoP eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    "Basic " + _basic("Aladdin", "open sesame"),
    "bearer   abc==",
    "Negotiate",
)
_BASIC_SEEDS = (
    _basic("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw"),
    _basic("client%20one", "p%2Bw%3Ad"),
    _basic("caf\u00e9", "\u20ac"),
    _basic("", ""),
)
_HEADER_BLOCKS = (
    "Host: as.example\r\nAuthorization: Basic "
    + _basic("s6BhdRkqt3", "secret")
    + "\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n",
    "Authorization: Bearer abc.def.ghi\r\nDPoP: eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln\r\n",
    "X-A: 1\r\nx-a: 2\r\nCookie: a=b\r\n",
)


def _pairs(block: Data) -> list[tuple[Any, Any]]:
    newline, colon = ("\r\n", ":") if isinstance(block, str) else (b"\r\n", b":")
    pairs: list[tuple[Any, Any]] = []
    for line in block.split(newline):  # type: ignore[arg-type]
        if line:
            name, _, value = line.partition(colon)  # type: ignore[arg-type]
            pairs.append((name, value))
    return pairs


def _request_from_block(block: Data) -> None:
    """Build a request from a raw header block and read everything from it."""
    request = Request(
        method="POST", url="https://as.example/token", headers=_pairs(block), body=b"a=1"
    )
    auth = request.authorization()
    if auth is not None and auth.scheme == "basic":
        parse_basic(auth.credentials, form_urlencoded=True)
    _ = request.headers.get_all("x-a"), dict(request.headers), repr(request.headers)
    if "content-type" in request.headers:
        request.form()


def _basic_of_text(text: str) -> None:
    """Encode mutated ``user:password`` text, so the mutations reach the decoded layer."""
    raw = text.encode("utf-8", "surrogatepass")
    credentials = base64.b64encode(raw).decode("ascii")
    parse_basic(credentials, form_urlencoded=len(raw) % 2 == 0)


def _query(url: str) -> None:
    Request(method="GET", url=url).query()


def _form_body(body: bytes) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    Request(method="POST", url="https://as.example/token", headers=headers, body=body).form()


def http_targets() -> list[Target]:
    """Request/Headers/form/Authorization/Basic parsing, each fed what a client sends."""
    return [
        Target("http.parse_form(str)", parse_form, _FORM_SEEDS),
        Target("http.Request.form", _form_body, tuple(s.encode() for s in _FORM_SEEDS)),
        Target("http.Request.query", _query, _URL_SEEDS),
        Target("http.percent_decode", _percent_decode, _FORM_SEEDS + _URL_SEEDS),
        Target(
            "http.percent_decode(plus)",
            lambda s: _percent_decode(s, plus=True),
            _FORM_SEEDS,
        ),
        Target("http.parse_authorization", parse_authorization, _AUTHORIZATION_SEEDS),
        Target("http.parse_basic", parse_basic, _BASIC_SEEDS),
        Target(
            "http.parse_basic(form_urlencoded)",
            lambda s: parse_basic(s, form_urlencoded=True),
            _BASIC_SEEDS,
        ),
        Target(
            "http.parse_basic(decoded)",
            _basic_of_text,
            ("s6BhdRkqt3:7Fjfp0ZBr1KtDRbnfVdmIw", "client%20one:p%2Bw%3Ad", "caf\u00e9:\u20ac"),
        ),
        Target("http.headers(str)", _request_from_block, _HEADER_BLOCKS),
        Target(
            "http.headers(asgi bytes)",
            _request_from_block,
            tuple(b.encode("latin-1") for b in _HEADER_BLOCKS),
        ),
    ]


# ------------------------------------------------------------------------------ mTLS targets


@dataclass(frozen=True, slots=True)
class _Pki:
    root: x509.Certificate
    inter: x509.Certificate
    client: x509.Certificate
    server: x509.Certificate
    crl_der: bytes
    trust: TrustStore


@functools.cache
def _pki() -> _Pki:
    root = make_ca("Fuzz Root")
    inter = make_ca("Fuzz Intermediate", issuer=root, path_length=0)
    client = make_leaf(inter, cn="client", dns=("client.example",), uris=("spiffe://a/b",))
    server = make_leaf(
        inter, cn="server", dns=("api.example.com",), eku=(ExtendedKeyUsageOID.SERVER_AUTH,)
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(inter.cert.subject)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(7), critical=False)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(4242)
            .revocation_date(NOW - dt.timedelta(hours=2))
            .build()
        )
        .sign(inter.key, hashes.SHA256())
    )
    return _Pki(
        root=root.cert,
        inter=inter.cert,
        client=client.cert,
        server=server.cert,
        crl_der=crl.public_bytes(serialization.Encoding.DER),
        trust=TrustStore([root.cert]),
    )


def _pem(*certs: x509.Certificate) -> str:
    return pem_of(*certs).decode("ascii")


def _xfcc_seeds(pki: _Pki) -> tuple[str, ...]:
    cert = urllib.parse.quote(_pem(pki.client))
    chain = urllib.parse.quote(_pem(pki.client, pki.inter))
    return (
        (
            f'By=spiffe://a/b;Hash=ab12;Cert="{cert}";Chain="{chain}";Subject="CN=client, O=x";'
            "URI=spiffe://a/c;DNS=client.example"
        ),
        f'By=spiffe://a/x;Cert="{cert}",By=spiffe://a/y;Hash=cd;Chain={chain}',
        f"Cert={cert}",
    )


def _forwarded(header: str) -> Callable[[str], object]:
    """Through :class:`Headers` (field checks first) or a plain dict (the parser alone)."""

    def call(value: str) -> object:
        headers = Headers([(header, value)]) if len(value) % 2 else {header: value}
        chain = chain_from_headers(headers, trust_forwarded=True, header=header)
        return verify_client(chain, trust=_pki().trust, now=NOW)

    return call


_ASGI_SEPARATOR = "\x1e"


def _asgi(value: str) -> object:
    """The PEM strings of an ASGI TLS extension, separated by U+001E in the fuzzed text."""
    scope = {"type": "http", "extensions": {"tls": {"client_cert_chain": value.split("\x1e")}}}
    return verify_client(chain_from_asgi(scope), trust=_pki().trust, now=NOW)


def _verify_data(data: bytes) -> object:
    pki = _pki()
    if data[:1] == b"\x30":  # DER: the leaf; the intermediate comes as an object
        return verify_client([data, pki.inter], trust=pki.trust, now=NOW)
    return verify_server(data, trust=pki.trust, server_name="api.example.com", now=NOW)


_CLIENT_AUTH = (
    TlsClientAuth(parameter="tls_client_auth_subject_dn", value="CN=client"),
    TlsClientAuth(parameter="tls_client_auth_san_dns", value="client.example"),
    TlsClientAuth(parameter="tls_client_auth_san_ip", value="192.0.2.1"),
)


def _certificate_object(der: bytes) -> None:
    """A caller-built certificate object (lazily parsed by cryptography) through every API."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = x509.load_der_x509_certificate(der)
    except Exception:  # noqa: BLE001 - cryptography's own loader is not under test
        return
    pki = _pki()
    checks: list[Callable[[], object]] = [
        lambda: thumbprint(cert),
        lambda: check_binding({"x5t#S256": "x" * 43}, cert),
        lambda: verify_client([cert, pki.inter], trust=pki.trust, now=NOW),
        lambda: verify_server([cert, pki.inter], trust=pki.trust, server_name="a.b", now=NOW),
        *(functools.partial(rule.match, cert) for rule in _CLIENT_AUTH),
    ]
    for check in checks:
        try:
            check()
        except VerificationError:
            pass


def mtls_targets() -> list[Target]:
    """Forwarded-certificate headers, ASGI forms, PEM/DER/CRL loading, SPIFFE IDs, DNs."""
    pki = _pki()
    der = pki.client.public_bytes(serialization.Encoding.DER)
    return [
        Target("mtls.xfcc", _forwarded("x-forwarded-client-cert"), _xfcc_seeds(pki)),
        Target(
            "mtls.forwarded_pem",
            _forwarded("x-ssl-client-cert"),
            (
                urllib.parse.quote(_pem(pki.client, pki.inter)),
                urllib.parse.quote(_pem(pki.client, pki.inter)).lower(),
            ),
        ),
        Target(
            "mtls.asgi",
            _asgi,
            (_pem(pki.client) + _ASGI_SEPARATOR + _pem(pki.inter), _pem(pki.client)),
        ),
        Target(
            "mtls.verify(pem/der)",
            _verify_data,
            (der, pem_of(pki.server, pki.inter)),
        ),
        Target("mtls.certificate_object", _certificate_object, (der,)),
        Target(
            "mtls.load_chain(text)",
            load_chain,
            (_pem(pki.client, pki.inter), "/etc/ssl/ca.pem"),
        ),
        Target(
            "mtls.load_crl",
            load_crl,
            (
                pki.crl_der,
                b"-----BEGIN X509 CRL-----\n"
                + base64.encodebytes(pki.crl_der)
                + b"-----END X509 CRL-----\n",
            ),
        ),
        Target(
            "mtls.SpiffeId.parse",
            SpiffeId.parse,
            ("spiffe://example.org/ns/prod/sa/api", "spiffe://a.b-c_d/x/y.z"),
        ),
        Target(
            "mtls.TlsClientAuth(subject_dn)",
            lambda value: TlsClientAuth(parameter="tls_client_auth_subject_dn", value=value).match(
                pki.client
            ),
            ("CN=client,O=Example\\, Inc.,C=US", "cn=a+uid=b,dc=example,dc=org", "CN=#0403616263"),
            allowed=AuthcoreError,  # registered metadata: the caller's configuration
        ),
    ]
