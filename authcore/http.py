"""Sans-IO HTTP value types and the header and form parsing authentication needs.

authcore never opens a socket here: a :class:`Request` is built from whatever your framework
hands you, authcore decides, and a :class:`Response` (status, headers, body bytes) goes back.

Implements:

* case-insensitive, immutable header fields (RFC 9110 section 5);
* ``application/x-www-form-urlencoded`` bodies with duplicated parameters refused (RFC 6749
  section 3.1: "Request and response parameters MUST NOT be included more than once");
* the ``Authorization`` header (RFC 9110 section 11.6.2 / RFC 7235 section 2.1) with the
  ``token68`` syntax for Basic (RFC 7617), Bearer (RFC 6750 section 2.1) and DPoP (RFC 9449
  section 7.1), and Basic credentials decoding, including the form-encoding that RFC 6749
  section 2.3.1 requires for OAuth client credentials.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias, cast

from authcore._encoding import json_dumps
from authcore._frozen import frozen_builder
from authcore._options import int_option
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    MalformedError,
    MalformedHeader,
    MalformedRequest,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "Authorization",
    "BasicCredentials",
    "Headers",
    "Request",
    "Response",
    "parse_authorization",
    "parse_basic",
    "parse_form",
    "percent_decode",
    "split_url",
]

MAX_FORM_PARAMETERS: Final = 100
"""Default cap on the number of form parameters parsed from one body."""
_MAX_PARAMS_LIMIT: Final = 1_000_000
"""The largest ``max_params`` accepted (``str.split`` needs a machine-sized count)."""

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 9110 section 11.2: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_CREDENTIALS_RE: Final = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +([A-Za-z0-9._~+/-]+=*))?")
# Controls other than HTAB, and lone surrogates (only a caller's str can hold them; they cannot
# be encoded, so nothing downstream could compare or store them).
_FIELD_VALUE_BAD_RE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_BASE64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_CTL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_METHOD_RE: Final = _TOKEN_RE


def percent_decode(text: str, *, plus: bool = False) -> str:
    """Percent-decode ``text`` strictly (RFC 3986 section 2.1), as UTF-8.

    Every ``%`` must start a ``%XX`` escape of two hex digits and the decoded octets must be
    UTF-8; with ``plus=True``, ``+`` is a space (``application/x-www-form-urlencoded``).
    Characters that are not escaped are kept, except lone surrogates, which no encoding can
    carry.

    Args:
        text: The encoded text.
        plus: Decode ``+`` as a space.

    Returns:
        The decoded text.

    Raises:
        DecodeError: On a stray ``%``, octets that are not UTF-8, a lone surrogate, or
            ``text`` that is not a ``str``.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cast("object", text), str):
        raise DecodeError(f"percent-encoded data must be str, got {type(text).__name__}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError("percent-encoded data holds a lone surrogate") from None
    elif "%" not in text and not (plus and "+" in text):
        return text  # nothing to decode: the common case of tokens and identifiers
    if _PERCENT_RE.search(text):
        raise DecodeError("invalid percent-encoding ('%' without two hex digits)")
    try:
        if plus:
            return urllib.parse.unquote_plus(text, errors="strict")
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise DecodeError("percent-encoded octets are not UTF-8") from None


def _decoded(text: str, error: type[MalformedError], what: str, *, plus: bool) -> str:
    try:
        return percent_decode(text, plus=plus)
    except DecodeError as exc:
        raise error(f"{what}: {exc.reason}") from None


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive HTTP header fields that keep repeated fields.

    Indexing returns the field value; a field sent several times is combined with ``", "`` as
    RFC 9110 section 5.3 allows.  Use :meth:`get_single` for fields that must appear at most
    once (``Authorization``, webhook signatures): it refuses repeats instead of guessing.

    Args:
        fields: A mapping, or an iterable of ``(name, value)`` pairs (``str`` or ASCII-ish
            ``bytes`` as ASGI servers provide them; bytes are decoded as Latin-1).

    Raises:
        MalformedHeader: If ``fields`` is not a mapping or pairs, a name is not a valid token,
            or a value is not text or has control characters or lone surrogates.
    """

    __slots__ = ("_fields", "_index")

    def __init__(
        self,
        fields: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] = (),
    ) -> None:
        given: object = fields
        if not isinstance(given, Iterable) or isinstance(given, (str, bytes)):
            raise MalformedHeader("header fields must be a mapping or (name, value) pairs")
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        items: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        for pair in pairs:
            if not isinstance(cast("object", pair), tuple) or len(pair) != 2:  # noqa: PLR2004
                raise MalformedHeader("header fields must be (name, value) pairs")
            raw_name, raw_value = pair
            name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name
            value = raw_value.decode("latin-1") if isinstance(raw_value, bytes) else raw_value
            if not isinstance(name, str) or _TOKEN_RE.fullmatch(name) is None:
                raise MalformedHeader("invalid header field name")
            if not isinstance(value, str) or _FIELD_VALUE_BAD_RE.search(value):
                raise MalformedHeader(f"invalid value for header {name!r}")
            value = value.strip(" \t")
            items.append((name, value))
            index.setdefault(name.lower(), []).append(value)
        self._fields: tuple[tuple[str, str], ...] = tuple(items)
        self._index: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in index.items()}

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._index[_field_key(name)])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._index == other._index

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._index.items())))

    def __repr__(self) -> str:
        # Credentials are not shown: a repr ends up in logs.
        shown = [(n, "<redacted>" if n.lower() in _SENSITIVE else v) for n, v in self._fields]
        return f"Headers({shown!r})"

    def get_all(self, name: str) -> tuple[str, ...]:
        """Return every value of ``name`` in the order received (empty if absent)."""
        return self._index.get(_field_key(name), ())

    def get_single(self, name: str) -> str | None:
        """Return the only value of ``name``, or ``None`` if absent.

        Raises:
            MalformedHeader: If the field appears more than once.
        """
        values = self._index.get(_field_key(name))
        if values is None:
            return None
        if len(values) != 1:
            raise MalformedHeader(f"header {name!r} repeated")
        return values[0]

    def raw(self) -> tuple[tuple[str, str], ...]:
        """Return the fields as received: ``(name, value)`` pairs, original case and order."""
        return self._fields


def _field_key(name: object) -> str:
    """The lookup key of a field name; a name that is not text is the caller's bug."""
    if not isinstance(name, str):
        raise ConfigurationError(f"header name must be str, got {type(name).__name__}")
    return name.lower()


_SENSITIVE: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key"}
)


HeadersLike: TypeAlias = Headers | Mapping[str, str] | Iterable[tuple[str, str]]
"""What :class:`Request` and :class:`Response` accept as headers."""


def _as_headers(value: HeadersLike) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


_BRACKETED_HOST_RE: Final = re.compile(r"\[[^\[\]]*\](?::[0-9]*)?")


def split_url(url: str) -> urllib.parse.SplitResult:
    """``urllib.parse.urlsplit`` with the same bracket checks on every Python we support.

    Python 3.11.4 and later refuse a netloc whose ``[``/``]`` do not enclose the host
    (``http://]x[/``); 3.10 accepts it. This applies the later rule everywhere.

    Raises:
        ValueError: If the URL cannot be split (as ``urlsplit`` raises).
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if ("[" in host or "]" in host) and not _BRACKETED_HOST_RE.fullmatch(host):
        raise ValueError("invalid bracketed host")
    return parts


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """An HTTP request as authcore sees it.

    The URL is kept as given and parsed only by :meth:`query`, so a request with an
    unparseable URL can still be built and refused with a typed error when it is read.

    Attributes:
        method: The request method, upper-case (``"GET"``, ``"POST"``, ...).
        url: The absolute request URL (scheme, host, path and query).
        headers: The header fields (a mapping or pairs are converted to :class:`Headers`).
        body: The raw body bytes.

    Raises:
        MalformedRequest: If the method is not an HTTP token, the URL is not text or the body
            is not bytes.
        MalformedHeader: If the header fields are invalid.
    """

    method: str
    url: str
    headers: Headers
    body: bytes

    def __init__(
        self,
        *,
        method: str,
        url: str,
        headers: HeadersLike = (),
        body: bytes = b"",
    ) -> None:
        if not isinstance(cast("object", body), bytes):
            raise MalformedRequest("body must be bytes")
        if not isinstance(cast("object", method), str) or not _METHOD_RE.fullmatch(method):
            raise MalformedRequest("method must be an HTTP token")
        if not isinstance(cast("object", url), str):
            raise MalformedRequest("url must be str")
        object.__setattr__(self, "method", method.upper())
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "headers", _as_headers(headers))
        object.__setattr__(self, "body", body)

    def query(self, *, max_params: int = MAX_FORM_PARAMETERS) -> dict[str, str]:
        """Parse the URL's query string like a form (duplicates refused).

        Raises:
            MalformedRequest: If the URL cannot be parsed (an unclosed ``[`` host, say) or
                the query is malformed, as for :func:`parse_form`.
        """
        try:
            query = split_url(self.url).query
        except ValueError:  # bad IPv6 brackets and some NFKC netlocs
            raise MalformedRequest("request URL cannot be parsed") from None
        return parse_form(query, max_params=max_params)

    def form(self, *, max_params: int = MAX_FORM_PARAMETERS) -> dict[str, str]:
        """Parse the body as ``application/x-www-form-urlencoded`` (duplicates refused).

        Raises:
            MalformedRequest: If the content type is not form-urlencoded or the body is
                malformed.
        """
        ctype = (self.headers.get_single("content-type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise MalformedRequest("content type must be application/x-www-form-urlencoded")
        return parse_form(self.body, max_params=max_params)

    def authorization(self) -> Authorization | None:
        """Parse the ``Authorization`` header, or return ``None`` if absent.

        Raises:
            MalformedHeader: If the header is repeated or not ``scheme token68``.
        """
        value = self.headers.get_single("authorization")
        return None if value is None else parse_authorization(value)


@dataclass(frozen=True, slots=True, init=False)
class Response:
    """An HTTP response for your framework to send.

    Attributes:
        status: The status code.
        headers: The header fields.
        body: The body bytes.

    Raises:
        ConfigurationError: If the status is not an int from 100 to 599 or the body is not
            bytes.
        MalformedHeader: If the header fields are invalid.
    """

    status: int
    headers: Headers
    body: bytes

    def __init__(self, *, status: int, headers: HeadersLike = (), body: bytes = b"") -> None:
        int_option(status, "status", low=100, high=599)  # RFC 9110 section 15
        if not isinstance(cast("object", body), bytes):
            raise ConfigurationError("body must be bytes")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "headers", _as_headers(headers))
        object.__setattr__(self, "body", body)

    @classmethod
    def json(
        cls,
        status: int,
        value: object,
        *,
        headers: HeadersLike = (),
    ) -> Response:
        """Build a JSON response with ``Cache-Control: no-store`` (RFC 6749 section 5.1)."""
        extra = list(headers.items() if isinstance(headers, Mapping) else headers)
        # Headers are immutable: the common case shares one validated instance.
        fields = Headers([*_JSON_FIELDS, *extra]) if extra else _JSON_HEADERS
        return cls(status=status, headers=fields, body=json_dumps(value))


_JSON_FIELDS: Final = (
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
)
_JSON_HEADERS: Final = Headers(_JSON_FIELDS)


def _form_text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedRequest("form data must be ASCII (percent-encode the rest)") from None
    if isinstance(data, str):
        return data
    raise MalformedRequest(f"form data must be str or bytes, got {type(data).__name__}")


def parse_form(data: bytes | str, *, max_params: int = MAX_FORM_PARAMETERS) -> dict[str, str]:
    """Parse ``application/x-www-form-urlencoded`` data strictly.

    Names and values are percent-decoded as UTF-8 (``+`` is a space).  Empty values are kept;
    OAuth callers treat them as absent (RFC 6749 section 3.1).

    Args:
        data: The body or query string.
        max_params: The most parameters accepted.

    Returns:
        The parameters by name.

    Raises:
        MalformedRequest: On a repeated name, bad percent-encoding, invalid UTF-8, a pair
            without ``=``, or more than ``max_params`` parameters.
    """
    int_option(max_params, "max_params", low=0, high=_MAX_PARAMS_LIMIT)
    text = _form_text(data)
    if not text:
        return {}
    pieces = text.split("&", max_params)  # at most max_params + 1 pieces: bounded work
    if len(pieces) > max_params:
        raise MalformedRequest(f"more than {max_params} form parameters")
    result: dict[str, str] = {}
    for piece in pieces:
        if "=" not in piece:
            raise MalformedRequest("form parameter without '='")
        raw_name, raw_value = piece.split("=", 1)
        name = _decoded(raw_name, MalformedRequest, "form data", plus=True)
        value = _decoded(raw_value, MalformedRequest, "form data", plus=True)
        if not name:
            raise MalformedRequest("form parameter with an empty name")
        if name in result:
            raise MalformedRequest(f"parameter {name[:40]!r} repeated")
        result[name] = value
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorization:
    """A parsed ``Authorization`` header.

    Attributes:
        scheme: The authentication scheme, lower-cased (``"basic"``, ``"bearer"``, ``"dpop"``).
        credentials: The ``token68`` credentials (empty when the scheme stands alone).
    """

    scheme: str
    credentials: str = field(repr=False)


# Authorization(...) without its frozen __init__ (authcore._frozen says how and why).
_new_authorization: Final = frozen_builder(Authorization)


def parse_authorization(value: str) -> Authorization:
    """Parse ``Authorization: <scheme> <token68>``.

    The scheme is compared case-insensitively (RFC 9110 section 11.1) and returned lower-case.
    Only the ``token68`` form is accepted, which is what Basic, Bearer and DPoP use.

    Args:
        value: The header field value.

    Returns:
        The scheme and credentials.

    Raises:
        MalformedHeader: If the value is not ``scheme`` optionally followed by spaces and a
            ``token68``.
    """
    if not isinstance(value, str):
        raise MalformedHeader("Authorization header must be text")
    match = _CREDENTIALS_RE.fullmatch(value.strip(" \t"))
    if match is None:
        raise MalformedHeader("Authorization header is not 'scheme token68'")
    return _new_authorization(scheme=match.group(1).lower(), credentials=match.group(2) or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class BasicCredentials:
    """A user-id and password from HTTP Basic authentication.

    Attributes:
        username: The user-id (or OAuth ``client_id``).
        password: The password (or ``client_secret``); never shown by ``repr``.
    """

    username: str
    password: str = field(repr=False)


def parse_basic(credentials: str, *, form_urlencoded: bool = False) -> BasicCredentials:
    """Decode Basic credentials (RFC 7617 section 2, UTF-8).

    Args:
        credentials: The ``token68`` part of ``Authorization: Basic ...``.
        form_urlencoded: Also percent-decode both parts, as RFC 6749 section 2.3.1 requires
            for OAuth client authentication.

    Returns:
        The user-id and password.

    Raises:
        MalformedHeader: On non-canonical base64, invalid UTF-8, a missing ``:``, control
            characters, or bad percent-encoding.
    """
    if not isinstance(cast("object", credentials), str) or not credentials:
        raise MalformedHeader("Basic credentials are empty")
    if len(credentials) % 4 or _BASE64_RE.fullmatch(credentials) is None:
        raise MalformedHeader("Basic credentials are not base64")
    try:
        raw = base64.b64decode(credentials, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise MalformedHeader("Basic credentials are not base64 of UTF-8") from None
    if base64.b64encode(raw).decode("ascii") != credentials:
        raise MalformedHeader("Basic credentials are not canonical base64")
    if ":" not in text:
        raise MalformedHeader("Basic credentials have no ':'")
    username, password = text.split(":", 1)
    if form_urlencoded:
        username = _decoded(username, MalformedHeader, "Basic credentials", plus=True)
        password = _decoded(password, MalformedHeader, "Basic credentials", plus=True)
    if _CTL_RE.search(username) or _CTL_RE.search(password):
        raise MalformedHeader("control character in Basic credentials")
    return BasicCredentials(username=username, password=password)
