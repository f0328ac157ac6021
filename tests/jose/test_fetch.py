"""urllib_fetcher and discovery against a real HTTPS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
import urllib.error
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.clock import FixedClock
from authcore.errors import ConfigurationError, FetchError
from authcore.jose import JWK
from authcore.jose.jwks import (
    AsyncJWKSCache,
    JWKSCache,
    cache_from_issuer,
    discover,
    metadata_urls,
    parse_metadata,
    run_in_thread,
    urllib_fetcher,
)
from tests._loopback import LoopbackPKI, Reply, Server
from tests.jose.test_jwks_cache import T0, jwks

KEY_1 = JWK.generate("ES256", kid="one")
KEY_2 = JWK.generate("ES256", kid="two")


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def fetcher(server: Server, pki: LoopbackPKI, path: str = "/jwks", **options: Any) -> Any:
    return urllib_fetcher(server.url(path), ssl_context=pki.client_context(), **options)


# ----------------------------------------------------------------------------- fetcher


def test_fetches_a_jwks_over_https(server: Server, pki: LoopbackPKI) -> None:
    """A 200 with a JWK Set media type returns the body bytes."""
    server.set("/jwks", Reply(body=body(jwks(KEY_1)), content_type="application/jwk-set+json"))
    assert json.loads(fetcher(server, pki)()) == jwks(KEY_1)
    server.set(
        "/jwks", Reply(body=body(jwks(KEY_2)), content_type="application/json; charset=utf-8")
    )
    assert json.loads(fetcher(server, pki)()) == jwks(KEY_2)


def test_cache_over_the_fetcher_follows_rotation_and_survives_500(
    server: Server, pki: LoopbackPKI
) -> None:
    """The cache serves rotating sets over HTTPS and keeps its keys through server errors."""
    clock = FixedClock(T0)
    cache = JWKSCache(fetcher(server, pki), clock=clock, ttl=60, cooldown=10)
    server.set("/jwks", Reply(body=body(jwks(KEY_1))))
    assert cache.get("one") == KEY_1.public()
    server.set("/jwks", Reply(body=body(jwks(KEY_1, KEY_2))))
    clock.advance(10)
    assert cache.get("two") == KEY_2.public()
    server.set("/jwks", Reply(status=500, body=b"oops"))
    clock.advance(60)
    assert cache.get("one") == KEY_1.public()
    assert cache.status.last_error == "JWKS from 127.0.0.1: HTTP status 500"
    assert server.hits("/jwks") == 3


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "HTTP status 500"),
        (Reply(status=404), "HTTP status 404"),
        (Reply(status=204), "unexpected HTTP status 204"),
        (Reply(body=b"{}", content_type="text/html"), "content type 'text/html' is not accepted"),
        (Reply(body=b"{}", content_type=None), "content type 'none' is not accepted"),
        (
            Reply(body=b"{}", headers=(("Content-Encoding", "gzip"),)),
            "content encoding 'gzip' is not accepted",
        ),
        (Reply(body=b"x" * 2000), "response larger than 1000 bytes"),
        (Reply(body=b"x" * 2000, length=False), "response larger than 1000 bytes"),
    ],
)
def test_refused_responses_have_precise_reasons(
    server: Server, pki: LoopbackPKI, reply: Reply, reason: str
) -> None:
    """Each refused response raises FetchError naming the exact problem."""
    server.set("/jwks", reply)
    with pytest.raises(FetchError) as info:
        fetcher(server, pki, max_bytes=1000)()
    assert reason in str(info.value)


def test_slow_response_times_out(server: Server, pki: LoopbackPKI) -> None:
    """A server that does not answer within the timeout fails with 'timed out'."""
    server.set("/jwks", Reply(body=b"{}", delay=5))
    with pytest.raises(FetchError, match="timed out"):
        fetcher(server, pki, timeout=0.3)()


def test_trickling_body_hits_the_overall_deadline(server: Server, pki: LoopbackPKI) -> None:
    """A body sent a byte at a time cannot hold the caller past the timeout."""
    server.set("/jwks", Reply(body=b"{" + b" " * 200 + b"}", trickle=0.05))
    with pytest.raises(FetchError, match="timed out"):
        fetcher(server, pki, timeout=0.3)()


def test_untrusted_certificate_is_refused(server: Server) -> None:
    """Without the test CA, certificate verification fails with a TLS reason."""
    server.set("/jwks", Reply(body=body(jwks(KEY_1))))
    with pytest.raises(FetchError, match="TLS certificate verification failed"):
        urllib_fetcher(server.url("/jwks"))()


def test_same_origin_redirect_is_followed(server: Server, pki: LoopbackPKI) -> None:
    """A redirect to another path of the same origin is followed."""
    server.set("/old", Reply(status=302, headers=(("Location", server.url("/jwks")),)))
    server.set("/jwks", Reply(body=body(jwks(KEY_1))))
    assert json.loads(fetcher(server, pki, "/old")()) == jwks(KEY_1)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("https://localhost:{port}/jwks", r"another origin \(localhost\)"),
        ("https://127.0.0.1:1/jwks", "another origin"),
        ("http://127.0.0.1:{port}/jwks", "refused URL"),
        ("ftp://127.0.0.1/jwks", "refused URL"),
    ],
)
def test_cross_origin_redirects_are_refused(
    server: Server, pki: LoopbackPKI, location: str, reason: str
) -> None:
    """Redirects to another host, port or scheme raise FetchError and are not followed."""
    port = server.base.rsplit(":", 1)[1]
    server.set("/old", Reply(status=301, headers=(("Location", location.format(port=port)),)))
    with pytest.raises(FetchError, match=reason):
        fetcher(server, pki, "/old")()


def test_redirect_loops_are_bounded(server: Server, pki: LoopbackPKI) -> None:
    """A redirect loop stops after a few hops with a typed error."""
    server.set("/loop", Reply(status=302, headers=(("Location", server.url("/loop")),)))
    with pytest.raises(FetchError, match=r"too many redirects \(HTTP status 302\)"):
        fetcher(server, pki, "/loop")()
    assert server.hits("/loop") <= 4


def test_http_to_loopback_only_when_allowed(plain_server: Server) -> None:
    """Plain http works only to loopback and only with allow_http_loopback=True."""
    plain_server.set("/jwks", Reply(body=body(jwks(KEY_1))))
    with pytest.raises(ConfigurationError, match="must use https"):
        urllib_fetcher(plain_server.url("/jwks"))
    fetch = urllib_fetcher(plain_server.url("/jwks"), allow_http_loopback=True)
    assert json.loads(fetch()) == jwks(KEY_1)
    with pytest.raises(ConfigurationError, match="only to a loopback"):
        urllib_fetcher("http://example.com/jwks", allow_http_loopback=True)


def test_connection_refused_is_a_fetch_error(plain_server: Server) -> None:
    """A closed port gives FetchError('connection refused')."""
    url = plain_server.url("/jwks")
    plain_server.__exit__()
    with pytest.raises(FetchError, match="connection refused"):
        urllib_fetcher(url, allow_http_loopback=True)()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "non-empty"),
        (42, "non-empty"),
        ("https://exa mple.com/", "whitespace"),
        ("https://host:99999/", "not a valid URL"),
        ("https:///path", "no host"),
        ("https://user:pw@example.com/jwks", "credentials"),
        ("https://example.com/jwks#frag", "fragment"),
        ("file:///etc/passwd", "must use https"),
        ("http://example.com/jwks", "must use https"),
    ],
)
def test_bad_urls_are_configuration_errors(url: Any, reason: str) -> None:
    """URLs are checked when the fetcher is built."""
    with pytest.raises(ConfigurationError, match=reason):
        urllib_fetcher(url)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"ssl_context": "yes"}, "ssl_context"),
    ],
)
def test_bad_fetcher_options(options: dict[str, Any], reason: str) -> None:
    """Out-of-range fetcher options are configuration errors."""
    with pytest.raises(ConfigurationError, match=reason):
        urllib_fetcher("https://example.com/jwks", **options)


def test_fetcher_repr_names_the_url() -> None:
    """The fetcher's repr shows the URL it reads."""
    assert "https://example.com/jwks" in repr(urllib_fetcher("https://example.com/jwks"))


# ----------------------------------------------------------------------------- discovery


def test_metadata_urls_follow_rfc8414_and_oidc() -> None:
    """RFC 8414 inserts the well-known segment before the path; OIDC appends it."""
    assert metadata_urls("https://as.example.com") == (
        "https://as.example.com/.well-known/oauth-authorization-server",
        "https://as.example.com/.well-known/openid-configuration",
    )
    assert metadata_urls("https://example.com/tenant/1/") == (
        "https://example.com/.well-known/oauth-authorization-server/tenant/1",
        "https://example.com/tenant/1/.well-known/openid-configuration",
    )
    with pytest.raises(ConfigurationError, match="query"):
        metadata_urls("https://example.com/?x=1")


def test_discovery_reads_rfc8414_metadata_and_builds_a_cache(
    server: Server, pki: LoopbackPKI
) -> None:
    """discover() reads the RFC 8414 document and cache_from_issuer() fetches its jwks_uri."""
    issuer = server.base
    server.set(
        "/.well-known/oauth-authorization-server",
        Reply(body=body({"issuer": issuer, "jwks_uri": server.url("/keys")})),
    )
    server.set("/keys", Reply(body=body(jwks(KEY_1))))
    metadata = discover(issuer, ssl_context=pki.client_context())
    assert metadata.jwks_uri == server.url("/keys")
    assert metadata.source.endswith("/.well-known/oauth-authorization-server")
    cache = cache_from_issuer(issuer, ssl_context=pki.client_context(), clock=FixedClock(T0))
    assert cache.get("one") == KEY_1.public()
    assert server.hits("/.well-known/openid-configuration") == 0


def test_discovery_falls_back_to_openid_configuration(server: Server, pki: LoopbackPKI) -> None:
    """When the RFC 8414 URL answers 404, the OpenID Connect URL is read."""
    issuer = server.url("/realms/a")
    server.set(
        "/realms/a/.well-known/openid-configuration",
        Reply(body=body({"issuer": issuer, "jwks_uri": server.url("/keys")})),
    )
    metadata = discover(issuer, ssl_context=pki.client_context())
    assert metadata.issuer == issuer
    assert server.hits("/.well-known/oauth-authorization-server/realms/a") == 1


@pytest.mark.parametrize("found", ["{base}/", "{base}/other", "{base_upper}", None])
def test_discovery_enforces_exact_issuer_equality(
    server: Server, pki: LoopbackPKI, found: str | None
) -> None:
    """A document whose issuer differs in any character is refused (RFC 8414 section 3.3)."""
    issuer = server.base
    value = None if found is None else found.format(base=issuer, base_upper=issuer.upper())
    server.set(
        "/.well-known/oauth-authorization-server",
        Reply(body=body({"issuer": value, "jwks_uri": server.url("/keys")})),
    )
    with pytest.raises(FetchError, match="issuer"):
        discover(issuer, ssl_context=pki.client_context())
    assert server.hits("/.well-known/openid-configuration") == 0


def test_discovery_without_documents_fails(server: Server, pki: LoopbackPKI) -> None:
    """Two 404s give a FetchError saying no metadata was found."""
    with pytest.raises(FetchError, match="no metadata found"):
        discover(server.base, ssl_context=pki.client_context())


def test_discovery_requires_json_metadata(server: Server, pki: LoopbackPKI) -> None:
    """Metadata must be application/json (the JWKS media type is not accepted for it)."""
    server.set(
        "/.well-known/oauth-authorization-server",
        Reply(body=b"{}", content_type="application/jwk-set+json"),
    )
    with pytest.raises(FetchError, match="content type"):
        discover(server.base, ssl_context=pki.client_context())


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"nope", "invalid JSON"),
        (b"[]", "not a JSON object"),
        ({"jwks_uri": "https://x/k"}, "'issuer' is missing"),
        ({"issuer": "https://as.example"}, "'jwks_uri' is missing"),
        ({"issuer": "https://as.example", "jwks_uri": "http://x/k"}, "jwks_uri must use https"),
    ],
)
def test_parse_metadata_refusals(document: Any, reason: str) -> None:
    """parse_metadata refuses malformed documents with a precise reason."""
    with pytest.raises(FetchError, match=reason):
        parse_metadata(document, issuer="https://as.example")


def test_parse_metadata_accepts_loopback_http_when_allowed() -> None:
    """A loopback http jwks_uri passes only with allow_http_loopback."""
    document = {"issuer": "http://127.0.0.1:8000", "jwks_uri": "http://127.0.0.1:8000/k"}
    metadata = parse_metadata(
        json.dumps(document), issuer="http://127.0.0.1:8000", allow_http_loopback=True
    )
    assert metadata.document["jwks_uri"] == "http://127.0.0.1:8000/k"
    with pytest.raises(FetchError, match="https"):
        parse_metadata(document, issuer="http://127.0.0.1:8000")


def test_localhost_counts_as_loopback() -> None:
    """http://localhost is accepted with allow_http_loopback, like 127.0.0.1 and ::1."""
    for url in ("http://localhost:8080/jwks", "http://[::1]/jwks", "http://127.1.2.3/jwks"):
        assert "urllib_fetcher" in repr(urllib_fetcher(url, allow_http_loopback=True))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ssl.SSLError(1, "bad record mac"), "TLS error"),
        (http.client.BadStatusLine("x"), "bad HTTP response (BadStatusLine)"),
        (urllib.error.URLError(socket.gaierror("no such host")), "host name not resolved"),
        (urllib.error.URLError("plain text reason"), "network error (URLError)"),
        (OSError("disk"), "network error (OSError)"),
        (TimeoutError(), "timed out"),
    ],
)
def test_network_errors_are_named(error: BaseException, reason: str) -> None:
    """Each low-level failure maps to a short reason without addresses or payloads."""
    from authcore._fetch import network_reason  # noqa: PLC0415 - private helper

    assert network_reason(error).startswith(reason)


@settings(max_examples=200, deadline=None)
@given(document=st.binary(max_size=64) | st.dictionaries(st.text(max_size=9), st.text(max_size=30)))
def test_parse_metadata_raises_only_fetch_error(document: Any) -> None:
    """Any metadata document parses or raises FetchError."""
    try:
        parse_metadata(document, issuer="https://as.example")
    except FetchError:
        pass


def test_async_cache_over_the_threaded_urllib_fetcher(server: Server, pki: LoopbackPKI) -> None:
    """run_in_thread(urllib_fetcher(...)) feeds an AsyncJWKSCache without blocking the loop."""
    server.set("/jwks", Reply(body=body(jwks(KEY_1))))

    async def scenario() -> None:
        cache = AsyncJWKSCache(run_in_thread(fetcher(server, pki)), clock=FixedClock(T0))
        found = await asyncio.gather(*(cache.aget("one") for _ in range(5)))
        assert found == [KEY_1.public()] * 5

    asyncio.run(scenario())
    assert server.hits("/jwks") == 1
    with pytest.raises(ConfigurationError, match="callable"):
        run_in_thread("https://example.com")  # type: ignore[arg-type]


def test_fetch_error_has_a_reason(server: Server, pki: LoopbackPKI) -> None:
    """FetchError carries its reason in .reason, as verification errors do."""
    server.set("/jwks", Reply(status=503))
    with pytest.raises(FetchError) as info:
        fetcher(server, pki)()
    assert info.value.reason == info.value.detail
    assert info.value.reason.endswith("HTTP status 503")
    assert FetchError().reason == ""
