"""The one guarded standard-library HTTP fetch: JWKS, discovery metadata, CRLs and OCSP.

Private bottom-layer plumbing (imports only :mod:`authcore.errors`).  Every fetcher authcore
ships (:func:`authcore.jose.jwks.urllib_fetcher`, :func:`authcore.jose.jwks.discover`,
:func:`authcore.mtls.urllib_crl_fetcher`, :func:`authcore.mtls.urllib_ocsp_fetcher`) goes
through :func:`request`, so each one has the same guarantees:

* **https only**, with certificate verification (the default context or the caller's).  Plain
  ``http`` only when the caller says so: to a loopback address with ``allow_http_loopback``
  (tests, local development), or to any host with ``allow_http`` (offered only for signed
  documents: CRLs and OCSP responses, whose distribution points are plain http by custom).
* **Same-origin redirects**, at most three; a redirect to another scheme, host or port, or of a
  request with a body, is refused.
* **A whole-transfer deadline**: ``timeout`` bounds connecting, each read, and the transfer as
  a whole, on the monotonic clock, so a server trickling bytes cannot hold the caller.
* **Content checks**: status 200 only (404 is reported to the caller, for discovery), an
  accepted media type, identity content encoding, and a size cap checked against
  ``Content-Length`` and while reading.
* **No proxy for loopback** destinations; other destinations use the environment's proxy.

Failures raise :class:`~authcore.errors.FetchError` with a short reason (status, media type,
size, timeout, TLS, redirect) that never holds the body.  URL and option mistakes raise
:class:`~authcore.errors.ConfigurationError`.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Final, cast

from authcore import __version__
from authcore._options import bool_option, int_option, seconds_option
from authcore.errors import ConfigurationError, FetchError, MalformedError
from authcore.http import Request, Response, split_url

if TYPE_CHECKING:
    from http.client import HTTPMessage
    from typing import IO

__all__ = [
    "FetchOptions",
    "Origin",
    "check_url",
    "is_loopback",
    "network_reason",
    "request",
    "require",
]

MAX_REDIRECTS: Final = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """The (scheme, host, port) of a URL; the port defaults by scheme."""

    scheme: str
    host: str
    port: int | None

    def __post_init__(self) -> None:
        if self.port is None:
            object.__setattr__(self, "port", 443 if self.scheme == "https" else 80)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FetchOptions:
    """The limits and transport rules of one fetcher, checked once at construction.

    Raises:
        ConfigurationError: If ``timeout`` or ``max_bytes`` is not positive, or
            ``ssl_context`` is not an :class:`ssl.SSLContext`.
    """

    timeout: float = 5.0
    max_bytes: int = 262_144
    allow_http_loopback: bool = False
    allow_http: bool = False
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        timeout = seconds_option(self.timeout, "timeout")
        int_option(self.max_bytes, "max_bytes")
        bool_option(self.allow_http_loopback, "allow_http_loopback")
        bool_option(self.allow_http, "allow_http")
        context: object = self.ssl_context
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise ConfigurationError("ssl_context must be an ssl.SSLContext")
        object.__setattr__(self, "timeout", timeout)

    def check(self, url: object, *, what: str = "url") -> Origin:
        """Check ``url`` against these options (:func:`check_url`)."""
        return check_url(
            url,
            allow_http_loopback=self.allow_http_loopback,
            allow_http=self.allow_http,
            what=what,
        )


def check_url(
    url: object, *, allow_http_loopback: bool, allow_http: bool = False, what: str = "url"
) -> Origin:
    """Validate a fetch URL; return its origin.

    Raises:
        ConfigurationError: Not https (or http where allowed), no host, credentials or a
            fragment in the URL, or whitespace and control characters.
    """
    bool_option(allow_http_loopback, "allow_http_loopback")
    bool_option(allow_http, "allow_http")
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{what} must be a non-empty string")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):  # noqa: PLR2004 - C0 controls, space
        raise ConfigurationError(f"{what} contains whitespace or control characters")
    try:
        parts = split_url(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid URL") from None
    host = (parts.hostname or "").lower()
    scheme = _check_scheme(
        parts.scheme.lower(),
        host,
        allow_http_loopback=allow_http_loopback,
        allow_http=allow_http,
        what=what,
    )
    if not host:
        raise ConfigurationError(f"{what} has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what} must not contain credentials")
    if parts.fragment:
        raise ConfigurationError(f"{what} must not contain a fragment")
    return Origin(scheme, host, port)


def _check_scheme(
    scheme: str, host: str, *, allow_http_loopback: bool, allow_http: bool, what: str = "url"
) -> str:
    if scheme == "https" or (scheme == "http" and allow_http):
        return scheme
    if scheme == "http" and allow_http_loopback:
        if host and not is_loopback(host):
            raise ConfigurationError(f"{what}: http is allowed only to a loopback address")
        return scheme
    if scheme == "http":
        raise ConfigurationError(
            f"{what} must use https (http is allowed only to loopback, when explicitly enabled)"
        )
    raise ConfigurationError(f"{what} must use https")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the original origin (scheme, host and port)."""

    max_redirections = MAX_REDIRECTS
    max_repeats = MAX_REDIRECTS

    def __init__(self, origin: Origin, options: FetchOptions) -> None:
        super().__init__()
        self._origin = origin
        self._options = options

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if req.data is not None:
            # urllib would turn a redirected POST into a GET without the body.
            fp.close()
            raise FetchError(f"redirect ({code}) of a request with a body refused")
        try:
            target = self._options.check(newurl)
        except ConfigurationError:
            fp.close()
            raise FetchError(f"redirect ({code}) to a refused URL") from None
        if target != self._origin:
            fp.close()
            raise FetchError(f"redirect ({code}) to another origin ({target.host}) refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


_NETWORK_REASONS: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (TimeoutError, "timed out"),
    (socket.timeout, "timed out"),
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "host name not resolved"),
)


def network_reason(exc: BaseException) -> str:
    """A short reason for a low-level failure, without addresses or payloads."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({getattr(exc, 'reason', None) or type(exc).__name__})"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__})"
    for kind, reason in _NETWORK_REASONS:
        if isinstance(exc, kind):
            return reason
    return f"network error ({type(exc).__name__})"


def _check_response(
    response: http.client.HTTPResponse, *, accept: frozenset[str], max_bytes: int, where: str
) -> None:
    status = response.status
    if status != 200:  # noqa: PLR2004 - only a plain 200 carries the document
        raise FetchError(f"{where}: unexpected HTTP status {status}")
    ctype = _media_type(response.headers.get("Content-Type"))
    if ctype not in accept:
        shown = ctype[:60] or "none"
        raise FetchError(f"{where}: content type {shown!r} is not accepted")
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise FetchError(f"{where}: content encoding {encoding[:20]!r} is not accepted")
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchError(f"{where}: response larger than {max_bytes} bytes")


def _read_body(
    response: http.client.HTTPResponse,
    *,
    max_bytes: int,
    deadline: float,
    timeout: float,
    where: str,
) -> bytes:
    # The deadline bounds the whole transfer, not only each socket operation, so a server that
    # trickles bytes cannot hold the caller.  A monotonic counter, not the wall clock.
    body = bytearray()
    while True:
        chunk = response.read1(65_536)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{where}: response larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError(f"{where}: timed out after {timeout:g} s")


def request(
    url: str,
    *,
    options: FetchOptions,
    accept: frozenset[str],
    what: str,
    data: bytes | None = None,
    data_type: str | None = None,
) -> tuple[int, bytes]:
    """GET ``url`` (or POST ``data`` as ``data_type``); return ``(status, body)``.

    Only status 200 (with the body) and 404 (with an empty body, for discovery fallbacks) are
    returned; everything else raises.

    Raises:
        ConfigurationError: If the URL is refused by ``options``.
        FetchError: On any network, TLS, HTTP, redirect, media type, size or time failure.
    """
    origin = options.check(url)
    opener = _opener(origin, options)
    headers = {"Accept": ", ".join(sorted(accept)), "User-Agent": f"authcore/{__version__}"}
    if data is not None:
        headers["Content-Type"] = data_type or "application/octet-stream"
    req = urllib.request.Request(  # noqa: S310 - scheme checked by check_url
        url, data=data, headers=headers, method="GET" if data is None else "POST"
    )
    where = f"{what} from {origin.host}"
    deadline = time.monotonic() + options.timeout
    try:
        with opener.open(req, timeout=options.timeout) as opened:
            response = cast("http.client.HTTPResponse", opened)
            _check_response(response, accept=accept, max_bytes=options.max_bytes, where=where)
            body = _read_body(
                response,
                max_bytes=options.max_bytes,
                deadline=deadline,
                timeout=options.timeout,
                where=where,
            )
            return 200, body
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:  # noqa: PLR2004 - discovery falls back on Not Found
            return 404, b""
        if 300 <= exc.code < 400:  # noqa: PLR2004 - urllib gave up redirecting
            raise FetchError(f"{where}: too many redirects (HTTP status {exc.code})") from None
        raise FetchError(f"{where}: HTTP status {exc.code}") from None
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(f"{where}: {network_reason(exc)}") from None


def _default_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _opener(origin: Origin, options: FetchOptions) -> urllib.request.OpenerDirector:
    context = options.ssl_context if options.ssl_context is not None else _default_context()
    handlers: list[urllib.request.BaseHandler] = [
        _SameOriginRedirects(origin, options),
        urllib.request.HTTPSHandler(context=context),
    ]
    if is_loopback(origin.host):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback via a proxy
    return urllib.request.build_opener(*handlers)


def send(message: Request, *, options: FetchOptions, what: str) -> Response:
    """Send an :class:`~authcore.http.Request` and return the final response, any status.

    For protocol clients that parse error answers themselves (an OAuth token endpoint answers
    400 with a JSON error): the URL rules, redirects, size cap and overall deadline are those
    of :func:`request`, but no status or media type is refused here.

    Raises:
        ConfigurationError: If the URL is refused by ``options``.
        FetchError: On any network, TLS, redirect, size or time failure.
    """
    origin = options.check(message.url)
    opener = _opener(origin, options)
    req = urllib.request.Request(  # noqa: S310 - scheme checked by check_url
        message.url, data=message.body or None, method=message.method
    )
    req.add_header("User-Agent", f"authcore/{__version__}")
    for name, value in message.headers.raw():
        req.add_header(name, value)
    where = f"{what} from {origin.host}"
    deadline = time.monotonic() + options.timeout
    try:
        try:
            opened = opener.open(req, timeout=options.timeout)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:  # noqa: PLR2004 - urllib gave up redirecting
                exc.close()
                raise FetchError(f"{where}: too many redirects (HTTP status {exc.code})") from None
            opened = exc
        with opened:
            response = cast("http.client.HTTPResponse", opened)
            body = _read_body(
                response,
                max_bytes=options.max_bytes,
                deadline=deadline,
                timeout=options.timeout,
                where=where,
            )
            status = int(response.status)
            return Response(status=status, headers=list(response.headers.items()), body=body)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError, MalformedError) as exc:
        raise FetchError(f"{where}: {network_reason(exc)}") from None


def require(
    url: str,
    *,
    options: FetchOptions,
    accept: frozenset[str],
    what: str,
    data: bytes | None = None,
    data_type: str | None = None,
) -> bytes:
    """Like :func:`request`, but a 404 is a :class:`~authcore.errors.FetchError` too."""
    status, body = request(
        url, options=options, accept=accept, what=what, data=data, data_type=data_type
    )
    if status != 200:  # noqa: PLR2004
        host = split_url(url).hostname
        raise FetchError(f"{what} from {host}: HTTP status {status}")
    return body
