"""Sans-IO HTTP types and header/form parsing (authcore.http)."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore.errors import ConfigurationError, DecodeError, MalformedHeader, MalformedRequest
from authcore.http import (
    Headers,
    Request,
    Response,
    parse_authorization,
    parse_basic,
    parse_form,
    percent_decode,
    split_url,
)

_TOKEN68 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/",
    min_size=1,
    max_size=60,
).map(lambda s: s + "=" * (len(s) % 3))


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    """Lookup ignores case; repeated fields combine, get_all keeps them apart."""
    headers = Headers([("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")])
    assert headers["content-type"] == "text/plain"
    assert headers["X-A"] == "1, 2"
    assert headers.get_all("X-a") == ("1", "2")
    assert "CONTENT-TYPE" in headers
    assert 3 not in headers  # type: ignore[comparison-overlap]
    assert len(headers) == 2
    assert sorted(headers) == ["content-type", "x-a"]
    assert headers.raw()[0] == ("Content-Type", "text/plain")


def test_headers_get_single_refuses_repeats() -> None:
    """A field that must be unique raises when repeated and is None when absent."""
    headers = Headers([("Authorization", "Bearer a"), ("authorization", "Bearer b")])
    with pytest.raises(MalformedHeader, match="repeated"):
        headers.get_single("Authorization")
    assert headers.get_single("x-missing") is None
    assert Headers({"A": "b"}).get_single("a") == "b"


def test_headers_from_asgi_bytes() -> None:
    """ASGI-style byte pairs are decoded as Latin-1 and values are trimmed."""
    headers = Headers([(b"x-key", b"  value\t")])
    assert headers["X-Key"] == "value"


@pytest.mark.parametrize(
    "pair",
    [("bad name", "v"), ("", "v"), ("x", "a\nb"), ("x", "a\rb"), ("x", "a\x00")],
)
def test_headers_reject_invalid_fields(pair: tuple[str, str]) -> None:
    """Invalid names and control characters in values (header injection) are refused."""
    with pytest.raises(MalformedHeader):
        Headers([pair])


def test_headers_equality_hash_and_redacted_repr() -> None:
    """Headers compare case-insensitively, hash consistently and redact credentials."""
    a = Headers({"Authorization": "Bearer secret-token", "X": "1"})
    b = Headers({"authorization": "Bearer secret-token", "x": "1"})
    assert a == b
    assert hash(a) == hash(b)
    assert a != Headers({"X": "2"})
    assert a.__eq__(object()) is NotImplemented
    assert "secret-token" not in repr(a)
    assert "<redacted>" in repr(a)


def test_request_is_immutable_and_normalised() -> None:
    """Requests upper-case the method, wrap headers and cannot be changed."""
    request = Request(method="post", url="https://a.example/t?x=1", headers={"A": "b"})
    assert request.method == "POST"
    assert isinstance(request.headers, Headers)
    assert request.query() == {"x": "1"}
    with pytest.raises(AttributeError):
        request.method = "GET"  # type: ignore[misc]


def test_request_body_must_be_bytes() -> None:
    """A str body is a typed error."""
    with pytest.raises(MalformedRequest, match="bytes"):
        Request(method="POST", url="https://a.example/", body="x")  # type: ignore[arg-type]


def test_request_form_requires_the_content_type() -> None:
    """form() parses urlencoded bodies only."""
    body = b"grant_type=client_credentials&scope=a+b"
    ok = Request(
        method="POST",
        url="https://a.example/token",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        body=body,
    )
    assert ok.form() == {"grant_type": "client_credentials", "scope": "a b"}
    wrong = Request(method="POST", url="https://a.example/", headers={}, body=body)
    with pytest.raises(MalformedRequest, match="content type"):
        wrong.form()


def test_request_authorization() -> None:
    """authorization() parses the header, is None when absent and refuses repeats."""
    request = Request(method="GET", url="https://a/", headers={"Authorization": "Bearer abc"})
    auth = request.authorization()
    assert auth is not None
    assert (auth.scheme, auth.credentials) == ("bearer", "abc")
    assert Request(method="GET", url="https://a/").authorization() is None
    twice = Request(
        method="GET",
        url="https://a/",
        headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
    )
    with pytest.raises(MalformedHeader, match="repeated"):
        twice.authorization()


def test_response_json() -> None:
    """JSON responses carry no-store caching and canonical bodies."""
    response = Response.json(400, {"error": "invalid_request"}, headers={"X-Extra": "1"})
    assert response.status == 400
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-extra"] == "1"
    assert response.body == b'{"error":"invalid_request"}'
    assert Response(status=204).body == b""


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=10))
def test_form_round_trip(params: dict[str, str]) -> None:
    """Urlencode then parse_form gives the parameters back (bytes and str)."""
    encoded = urllib.parse.urlencode(params)
    assert parse_form(encoded) == params
    assert parse_form(encoded.encode("ascii")) == params


@given(st.binary(max_size=100))
def test_form_never_raises_other_errors(data: bytes) -> None:
    """Arbitrary bytes parse or raise MalformedRequest."""
    try:
        parse_form(data)
    except MalformedRequest:
        pass


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a=1&a=2", "repeated"),
        (b"a=1&b=2&a=", "repeated"),
        (b"a%20=1&a+=2", "repeated"),
        (b"a=%zz", "percent-encoding"),
        (b"a=%e9", "not UTF-8"),
        (b"a=\xe9", "ASCII"),
        (b"a", "without '='"),
        (b"=1", "empty name"),
        (b"a=1&&b=2", "without '='"),
    ],
)
def test_form_rejects(data: bytes, reason: str) -> None:
    """Duplicates (also after decoding), bad encoding and junk are refused."""
    with pytest.raises(MalformedRequest, match=reason):
        parse_form(data)


def test_form_limits_parameter_count() -> None:
    """More than max_params parameters are refused."""
    with pytest.raises(MalformedRequest, match="more than 3"):
        parse_form("a=1&b=2&c=3&d=4", max_params=3)
    assert parse_form("") == {}


def test_form_rejects_wrong_type() -> None:
    """A non-text argument is a typed error."""
    with pytest.raises(MalformedRequest):
        parse_form(None)  # type: ignore[arg-type]


@given(st.sampled_from(["Bearer", "bearer", "BEARER", "DPoP", "Basic"]), _TOKEN68)
def test_authorization_token68(scheme: str, token: str) -> None:
    """Any scheme and token68 parse; the scheme is lower-cased."""
    auth = parse_authorization(f"{scheme} {token}")
    assert auth.scheme == scheme.lower()
    assert auth.credentials == token
    assert repr(auth) == f"Authorization(scheme={scheme.lower()!r})"


@given(st.text(max_size=60))
def test_authorization_never_raises_other_errors(value: str) -> None:
    """Arbitrary text parses or raises MalformedHeader."""
    try:
        parse_authorization(value)
    except MalformedHeader:
        pass


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer",
        "Bearer a b",
        "Bearer =abc",
        "Bearer a=b",
        "Bearer a,b",
        'Digest username="x"',
        "Bearer\tabc",
        "Bear er abc",
    ],
)
def test_authorization_rejects(value: str) -> None:
    """Missing or non-token68 credentials and auth-param lists are refused."""
    if value == "Bearer":
        assert parse_authorization(value).credentials == ""
        return
    with pytest.raises(MalformedHeader):
        parse_authorization(value)


def test_authorization_rejects_wrong_type() -> None:
    """Bytes are refused with a typed error."""
    with pytest.raises(MalformedHeader):
        parse_authorization(b"Bearer a")  # type: ignore[arg-type]


def _basic(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def test_basic_credentials() -> None:
    """user:pass decodes, the password may contain ':', UTF-8 is supported."""
    creds = parse_basic(_basic("Aladdin:open:sesame ü".encode()))
    assert creds.username == "Aladdin"
    assert creds.password == "open:sesame ü"
    assert "sesame" not in repr(creds)


def test_basic_form_urlencoded_oauth_credentials() -> None:
    """RFC 6749 section 2.3.1: client id and secret are form-encoded before Basic."""
    raw = b"my%3Aclient:s%2Bcr%C3%A9t+x"
    creds = parse_basic(_basic(raw), form_urlencoded=True)
    assert creds.username == "my:client"
    assert creds.password == "s+cr\u00e9t x"
    with pytest.raises(MalformedHeader, match="percent"):
        parse_basic(_basic(b"a:%zz"), form_urlencoded=True)
    with pytest.raises(MalformedHeader, match="UTF-8"):
        parse_basic(_basic(b"a:%ff"), form_urlencoded=True)


@pytest.mark.parametrize(
    "credentials",
    [
        "",
        "YWJj",  # "abc": no colon
        "YWJjOmQ",  # missing padding
        "YWJjOmQ=\n",
        "YW Jj",
        "_-_-",
        _basic(b"a:\x00"),
        _basic(b"\xff:x"),
        "YWJjOmR=",  # non-canonical trailing bits ("abc:d" is YWJjOmQ=)
    ],
)
def test_basic_rejects(credentials: str) -> None:
    """Non-canonical base64, no colon, control characters and bad UTF-8 are refused."""
    with pytest.raises(MalformedHeader):
        parse_basic(credentials)


@given(st.text(max_size=40))
def test_basic_never_raises_other_errors(value: str) -> None:
    """Arbitrary text decodes or raises MalformedHeader."""
    for form in (False, True):
        try:
            parse_basic(value, form_urlencoded=form)
        except MalformedHeader:
            pass


# ------------------------------------------------------------ typed errors at the boundary


@pytest.mark.parametrize(
    "url",
    [
        "https://[bad/path?a=1",
        "https://[::1/x?a=1",
        "http://]x[/?a=1",
        "https://\uff03@example.com/?a=1",  # NFKC turns the netloc into '#': refused
    ],
)
def test_query_of_an_unparseable_url_is_malformed_request(url: str) -> None:
    """Request.query() on a URL urlsplit refuses is MalformedRequest, not ValueError."""
    with pytest.raises(MalformedRequest, match="URL cannot be parsed"):
        Request(method="GET", url=url).query()


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("a=%zz", "percent-encoding"), ("a=%FF", "not UTF-8"), ("a=%C3", "not UTF-8")],
)
def test_query_percent_decoding_is_typed(query: str, fragment: str) -> None:
    """Bad escapes or non-UTF-8 octets in a query string are MalformedRequest."""
    with pytest.raises(MalformedRequest, match=fragment):
        Request(method="GET", url=f"https://example.com/?{query}").query()


@pytest.mark.parametrize(
    ("text", "plus", "expected"),
    [
        ("a%20b+c", False, "a b+c"),
        ("a%20b+c", True, "a b c"),
        ("caf%C3%A9", False, "caf\u00e9"),
        ("%2D%2D", False, "--"),
        ("plain", False, "plain"),
        ("caf\u00e9", False, "caf\u00e9"),
    ],
)
def test_percent_decode(text: str, plus: bool, expected: str) -> None:
    """percent_decode decodes %XX as UTF-8, and + as a space only when asked."""
    assert percent_decode(text, plus=plus) == expected


@pytest.mark.parametrize(
    "text", ["%", "%2", "%G0", "%FF", "%C3%28", "%ED%A0%80", "a\ud800", "%41\udfff"]
)
def test_percent_decode_refusals_are_decode_errors(text: str) -> None:
    """Stray %, non-UTF-8 octets (encoded surrogates too) and lone surrogates are DecodeError."""
    with pytest.raises(DecodeError):
        percent_decode(text)


def test_percent_decode_refuses_non_text() -> None:
    """percent_decode of bytes is a DecodeError, not a TypeError."""
    with pytest.raises(DecodeError):
        percent_decode(b"%41")  # type: ignore[arg-type]


def test_form_values_with_lone_surrogates_are_refused() -> None:
    """A str form body with a lone surrogate is MalformedRequest (no store could encode it)."""
    with pytest.raises(MalformedRequest):
        parse_form("client_id=\ud800")
    with pytest.raises(MalformedRequest):
        parse_form("client_id=%41\ud800")


@pytest.mark.parametrize("max_params", [-1, 1.5, "10", True, None])
def test_form_max_params_must_be_a_non_negative_int(max_params: object) -> None:
    """A max_params that is not a non-negative int is ConfigurationError, not TypeError."""
    with pytest.raises(ConfigurationError):
        parse_form("a=1", max_params=max_params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [42, "ab", b"ab", [("a",)], [("a", "b", "c")], ["ab"], [(1, "v")], [("a", 1)]],
)
def test_headers_of_the_wrong_shape_are_malformed(fields: object) -> None:
    """Non-iterables, strings and pairs that are not (name, value) are MalformedHeader."""
    with pytest.raises(MalformedHeader):
        Headers(fields)  # type: ignore[arg-type]


def test_header_values_with_lone_surrogates_are_refused() -> None:
    """A header value holding a lone surrogate is MalformedHeader."""
    with pytest.raises(MalformedHeader):
        Headers([("X-A", "a\ud800")])


def test_header_lookup_by_a_non_string_is_a_configuration_error() -> None:
    """Looking a header up by a non-str name is ConfigurationError, not AttributeError."""
    headers = Headers([("X-A", "1")])
    with pytest.raises(ConfigurationError):
        headers.get_single(1)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        headers.get_all(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "url"), [(1, "https://a/"), ("GE T", "https://a/"), ("", "https://a/"), ("GET", 1)]
)
def test_request_refuses_bad_method_or_url_types(method: object, url: object) -> None:
    """A method that is not an HTTP token or a URL that is not text is MalformedRequest."""
    with pytest.raises(MalformedRequest):
        Request(method=method, url=url)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "body"), [(99, b""), (600, b""), (True, b""), (200, "x")])
def test_response_refuses_bad_status_or_body(status: object, body: object) -> None:
    """A status outside 100-599 or a body that is not bytes is ConfigurationError."""
    with pytest.raises(ConfigurationError):
        Response(status=status, body=body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["http://]x[/", "http://a]b[c/", "http://u@x[::1]/", "http://[::1]x/"]
)
def test_split_url_refuses_misplaced_brackets_on_every_python(url: str) -> None:
    """3.10's urlsplit accepts these netlocs; split_url applies 3.11.4's rule everywhere."""
    with pytest.raises(ValueError):
        split_url(url)


@pytest.mark.parametrize(
    "url", ["http://[::1]/p?q=1", "https://u:p@[fe80::1]:8443/", "https://a.example/"]
)
def test_split_url_keeps_good_hosts(url: str) -> None:
    assert split_url(url) == urllib.parse.urlsplit(url)
