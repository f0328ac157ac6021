"""``authcore oauth serve``: a real authorization server on a laptop, for developing clients.

The standard library's threaded WSGI server carries an :class:`~authcore.oauth.AuthorizationServer`
configured from one JSON file; every endpoint is at the conventional path below the issuer
``http://HOST:PORT`` (the metadata lists them).  Plain http is only served on loopback hosts.
Besides the OAuth endpoints: a consent page (``/authorize`` without ``--auto-approve``), the
device verification page (``/device``), and a protected test resource (``/resource``, any
method) that runs :meth:`~authcore.oauth.resource.ResourceServer.authenticate` for the
audience ``http://HOST:PORT/resource`` and answers the token information, or the challenge.

Nothing here is meant for production: there is no login (the consent page asks for the
subject's name), and the signing key lives in memory unless ``signing_key`` names a file.
"""

from __future__ import annotations

import html
import ipaddress
import json
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import wsgiref.simple_server
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from authcore.cli._common import read_input
from authcore.errors import (
    AuthcoreError,
    MalformedError,
    OAuthError,
    RateLimited,
    UsageError,
    VerificationError,
)
from authcore.http import Request, Response
from authcore.jose import JWK, SIGNATURE_ALGORITHMS, KeyType
from authcore.jose.keyring import KeyRing
from authcore.oauth import (
    AuthorizationServer,
    ClientRecord,
    PendingAuthorization,
    Policy,
    TokenFormat,
    resource_servers,
)
from authcore.oauth.dpop import HMACNonces
from authcore.oauth.resource import Introspector, ResourceServer, error_response
from authcore.stores.memory import (
    MemoryClientStore,
    MemoryGrantStore,
    MemoryOneTimeStore,
    MemoryRateLimitStore,
)
from authcore.stores.sqlite import (
    SQLiteClientStore,
    SQLiteGrantStore,
    SQLiteOneTimeStore,
    SQLiteRateLimitStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["DevConfig", "DevServer", "load_config", "serve"]

MAX_BODY: Final = 64 * 1024
"""Request bodies above this are answered 413 without being read."""
PENDING_LIFETIME: Final = 600.0
"""Seconds a consent page stays usable."""
MAX_PENDING: Final = 1000
"""Consent pages kept at once (the oldest is dropped first)."""
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_RESOURCE_CLIENT: Final = "authcore-dev-resource"
"""The internal client /resource introspects opaque tokens with (registered at start)."""


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True, kw_only=True)
class DevConfig:
    """The configuration file, checked (see the CLI guide for every field)."""

    clients: tuple[ClientRecord, ...]
    scopes: tuple[str, ...] = ()
    access_token_format: TokenFormat = TokenFormat.JWT
    access_token_lifetime: int = 600
    refresh_token_lifetime: int = 30 * 86400
    signing_alg: str = "ES256"
    signing_key: str | None = None
    database: str | None = None
    resources: tuple[str, ...] = ()
    dpop: str = "allowed"
    dpop_nonce: bool = False
    resource_servers: tuple[str, ...] = ()


def _strings(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{name} must be a list of non-empty strings")
    return tuple(value)


def _lifetime(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a whole number of seconds >= 1")
    return value


def _choice(choices: Iterable[str]) -> Callable[[object, str], str]:
    allowed = tuple(choices)

    def check(value: object, name: str) -> str:
        if value not in allowed:
            raise UsageError(f"{name} must be one of {', '.join(map(repr, allowed))}")
        return str(value)

    return check


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false")
    return value


def _path(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{name} must be a file path")
    return value


def _signing_alg(value: object, name: str) -> str:
    spec = SIGNATURE_ALGORITHMS.get(value) if isinstance(value, str) else None
    if spec is None or spec.kty is KeyType.OCT:
        raise UsageError(f"{name} must be an asymmetric JWS algorithm such as ES256")
    return str(value)


def _clients(value: object, name: str) -> tuple[ClientRecord, ...]:
    if not isinstance(value, list) or not value:
        raise UsageError(f"{name} must be a non-empty list of RFC 7591 client metadata objects")
    records = []
    for index, metadata in enumerate(value):
        if not isinstance(metadata, dict) or not isinstance(metadata.get("client_id"), str):
            raise UsageError(f"{name}[{index}] must be an object with a client_id")
        try:
            records.append(ClientRecord.from_metadata(metadata))
        except AuthcoreError as exc:
            raise UsageError(f"{name}[{index}] ({metadata['client_id']}): {exc.detail}") from None
    ids = [r.client_id for r in records]
    if len(set(ids)) != len(ids) or _RESOURCE_CLIENT in ids:
        raise UsageError(f"{name}: client_id values must be unique (and not {_RESOURCE_CLIENT})")
    return tuple(records)


def _resources(value: object, name: str) -> tuple[str, ...]:
    items = _strings(value, name)
    for item in items:
        parts = urllib.parse.urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
            raise UsageError(f"{name}: {item!r} is not an absolute http(s) URI without fragment")
    return items


_FIELDS: Final[dict[str, Callable[[object, str], object]]] = {
    "clients": _clients,
    "scopes": _strings,
    "access_token_format": lambda v, n: (
        TokenFormat.JWT if _choice(("jwt", "opaque"))(v, n) == "jwt" else TokenFormat.OPAQUE
    ),
    "access_token_lifetime": _lifetime,
    "refresh_token_lifetime": _lifetime,
    "signing_alg": _signing_alg,
    "signing_key": _path,
    "database": _path,
    "resources": _resources,
    "dpop": _choice(("allowed", "required")),
    "dpop_nonce": _flag,
    "resource_servers": _strings,
}
"""Each field of the file and its check: adding a field is one entry here and one in
:class:`DevConfig`."""


def load_config(path: str) -> DevConfig:
    """Read and check the configuration file.

    Raises:
        UsageError: With one line naming the first problem (the command exits 2).
    """
    try:
        document = json.loads(read_input(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: must hold a JSON object")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise UsageError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    if "clients" not in document:
        raise UsageError(f"{path}: 'clients' is required")
    values = {}
    for name, check in _FIELDS.items():
        if name in document:
            try:
                values[name] = check(document[name], name)
            except UsageError as exc:
                raise UsageError(f"{path}: {exc.detail}") from None
    return DevConfig(**values)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the application


def _signing_key(config: DevConfig) -> JWK:
    if config.signing_key is None:
        return JWK.generate(config.signing_alg, kid="dev-" + secrets.token_hex(4))
    raw = read_input(config.signing_key)
    try:
        key = JWK.from_dict(json.loads(raw), alg=config.signing_alg)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{config.signing_key}: not a JWK (JSON)") from None
    except AuthcoreError as exc:
        raise UsageError(f"{config.signing_key}: {exc.detail}") from None
    if not key.is_private:
        raise UsageError(f"{config.signing_key}: signing_key must be a private key")
    if key.kid is None:
        key = JWK.from_dict({**key.to_dict(private=True), "kid": key.thumbprint()})
    return key


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return Response(
        status=status,
        headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", "default-src 'none'; form-action 'self'"),
            ("X-Frame-Options", "DENY"),
        ],
        body=text.encode(),
    )


def _decision_form(action: str, hidden: dict[str, str], prompt: str) -> str:
    fields = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in hidden.items()
    )
    return (
        f"<p>{html.escape(prompt)}</p><form method='post' action='{html.escape(action)}'>"
        f"{fields}<label>Subject <input name='subject' required></label> "
        "<button name='decision' value='approve'>Approve</button> "
        "<button name='decision' value='deny'>Deny</button></form>"
    )


class DevServer:
    """The WSGI application of ``authcore oauth serve`` (built once the port is known).

    Args:
        config: The checked configuration.
        issuer: ``http://HOST:PORT``.
        auto_approve: Approve every request at once for this subject (``None``: ask).
    """

    def __init__(self, config: DevConfig, issuer: str, auto_approve: str | None) -> None:
        self.issuer = issuer
        self.auto_approve = auto_approve
        resource = issuer + "/resource"
        internal_secret = secrets.token_urlsafe(32)
        internal = ClientRecord.from_metadata(
            {
                "client_id": _RESOURCE_CLIENT,
                "client_secret": internal_secret,
                "grant_types": ["client_credentials"],
            }
        )
        key = _signing_key(config)
        keys = KeyRing.create(key)
        if config.database is None:
            clients: Any = MemoryClientStore([*config.clients, internal])
            store: Any = MemoryGrantStore()
            one_time: Any = MemoryOneTimeStore()
            rate_limits: Any = MemoryRateLimitStore()
        else:
            clients = SQLiteClientStore(config.database)
            for record in (*config.clients, internal):
                clients.add(record)
            store = SQLiteGrantStore(config.database)
            one_time = SQLiteOneTimeStore(config.database)
            rate_limits = SQLiteRateLimitStore(config.database)
        nonces = HMACNonces(secrets.token_bytes(32)) if config.dpop_nonce else None
        self.server = AuthorizationServer(
            issuer=issuer,
            clients=clients,
            store=store,
            keys=keys,
            policy=Policy(
                scopes=config.scopes,
                access_token_format=config.access_token_format,
                access_token_lifetime=config.access_token_lifetime,
                refresh_token_lifetime=config.refresh_token_lifetime,
                resources=config.resources,
                default_audience=(resource,),
                require_dpop=config.dpop == "required",
                introspection_rule=resource_servers(_RESOURCE_CLIENT, *config.resource_servers),
            ),
            one_time=one_time,
            rate_limits=rate_limits,
            dpop_nonces=nonces,
        )
        introspector = Introspector(
            self.server.endpoints.introspection,
            self.server.introspection_endpoint,
            client_id=_RESOURCE_CLIENT,
            client_secret=internal_secret,
            cache_ttl=0,
        )
        self.resource = ResourceServer(
            resource=resource,
            issuer=issuer,
            keys=keys,
            algorithms=[key.alg or config.signing_alg],
            introspection=introspector,
            dpop_replay=one_time,
            dpop_nonces=nonces,
        )
        self._pending: dict[str, tuple[float, PendingAuthorization]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ WSGI

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., object]
    ) -> list[bytes]:
        """Answer one request."""
        response = self.respond(environ)
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        start_response(status, list(response.headers.raw()))
        return [response.body]

    def respond(self, environ: dict[str, Any]) -> Response:
        """The :class:`~authcore.http.Response` to one WSGI request."""
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("PATH_INFO", "/")) or "/"
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return Response.json(400, {"error": "invalid_request"})
        if length > MAX_BODY or length < 0:
            return Response.json(413, {"error": "invalid_request"})
        query = str(environ.get("QUERY_STRING", ""))
        # The URL is built from the configured issuer, never from the Host header.
        url = self.issuer + urllib.parse.quote(path) + ("?" + query if query else "")
        fields = [
            (k[5:].replace("_", "-"), str(v)) for k, v in environ.items() if k.startswith("HTTP_")
        ]
        if environ.get("CONTENT_TYPE"):
            fields.append(("Content-Type", str(environ["CONTENT_TYPE"])))
        try:
            body = environ["wsgi.input"].read(length) if length else b""
            request = Request(method=method, url=url, headers=fields, body=body)
        except (MalformedError, ValueError):
            return Response.json(400, {"error": "invalid_request"})
        return self.route(request, path, str(environ.get("REMOTE_ADDR", "")))

    def route(self, request: Request, path: str, address: str) -> Response:  # noqa: PLR0911
        """Dispatch ``request`` by path and method."""
        server, method = self.server, request.method
        posts: dict[str, Callable[[Request], Response]] = {
            "/token": server.token_endpoint,
            "/revoke": server.revocation_endpoint,
            "/introspect": server.introspection_endpoint,
            "/par": server.par_endpoint,
            "/device_authorization": server.device_authorization_endpoint,
        }
        if path == "/resource":
            return self._resource(request)
        if method == "POST" and path in posts:
            return posts[path](request)
        if method == "GET" and path == "/.well-known/oauth-authorization-server":
            return server.metadata()
        if method == "GET" and path == "/jwks":
            return server.jwks()
        if path == "/authorize" and method in {"GET", "POST"}:
            return self._authorize(request)
        if path == "/consent" and method == "POST":
            return self._consent(request)
        if path == "/device" and method in {"GET", "POST"}:
            return self._device(request, address)
        return Response.json(404, {"error": "not_found"})

    # ------------------------------------------------------------------ pages

    def _authorize(self, request: Request) -> Response:
        pending = self.server.begin_authorization(request)
        if not isinstance(pending, PendingAuthorization):
            return pending
        if self.auto_approve is not None:
            return self.server.complete_authorization(pending, subject=self.auto_approve)
        ticket = secrets.token_urlsafe(32)  # also the form's CSRF token
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (at, _) in self._pending.items() if now - at > PENDING_LIFETIME]:
                del self._pending[old]
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[ticket] = (now, pending)
        scope = " ".join(pending.scope) or "(none)"
        prompt = f"{pending.client_id} asks for: {scope}"
        return _page("Authorize", _decision_form("/consent", {"ticket": ticket}, prompt))

    def _consent(self, request: Request) -> Response:
        try:
            form = request.form()
        except MalformedError:
            return _page("Bad request", "<p>Malformed form.</p>", 400)
        with self._lock:
            entry = self._pending.pop(form.get("ticket", ""), None)
        if entry is None or time.monotonic() - entry[0] > PENDING_LIFETIME:
            return _page("Expired", "<p>This consent page expired; start again.</p>", 400)
        subject = form.get("subject", "").strip()
        approved = form.get("decision") == "approve"
        if approved and not subject:
            return _page("Bad request", "<p>A subject is required to approve.</p>", 400)
        return self.server.complete_authorization(
            entry[1], subject=subject or "anonymous", approved=approved
        )

    def _device(self, request: Request, address: str) -> Response:
        try:
            params = request.query() if request.method == "GET" else request.form()
        except MalformedError:
            return _page("Bad request", "<p>Malformed request.</p>", 400)
        user_code = params.get("user_code", "")
        if request.method == "GET" and (self.auto_approve is None or not user_code):
            prompt = "Enter the code your device shows."
            body = (
                f"<p>{html.escape(prompt)}</p><form method='post' action='/device'>"
                f"<label>Code <input name='user_code' value='{html.escape(user_code)}' "
                "required></label> <label>Subject <input name='subject' required></label> "
                "<button name='decision' value='approve'>Approve</button> "
                "<button name='decision' value='deny'>Deny</button></form>"
            )
            return _page("Device sign-in", body)
        if request.method == "GET":
            subject, approved = str(self.auto_approve), True
        else:
            subject = params.get("subject", "").strip() or "anonymous"
            approved = params.get("decision") == "approve"
        try:
            self.server.complete_device_authorization(
                user_code, subject=subject, approved=approved, rate_limit_key=address
            )
        except RateLimited as exc:
            return Response(status=429, headers=exc.headers())
        except VerificationError:
            return _page("Unknown code", "<p>Unknown, expired or already used code.</p>", 400)
        verdict = "approved" if approved else "denied"
        return _page("Done", f"<p>Code {html.escape(user_code)} {verdict}.</p>")

    def _resource(self, request: Request) -> Response:
        try:
            scopes = request.query().get("scope", "").split()
            info = self.resource.authenticate(request, scopes=scopes)
        except OAuthError as exc:
            return error_response(exc)
        except MalformedError:
            return Response.json(400, {"error": "invalid_request"})
        document = {
            "scheme": info.scheme,
            "source": info.source.value,
            "sub": info.subject,
            "client_id": info.client_id,
            "scope": " ".join(sorted(info.scope)),
            "aud": list(info.audience),
            "iss": info.issuer,
            "exp": info.expires_at,
            "jti": info.jti,
            "cnf": {"jkt": info.jkt} if info.jkt else None,
        }
        headers = [("DPoP-Nonce", info.dpop_nonce)] if info.dpop_nonce else []
        present = {k: v for k, v in document.items() if v is not None}
        return Response.json(200, present, headers=headers)


# ----------------------------------------------------------------------------- serving


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _Handler(wsgiref.simple_server.WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # One line per request, without the query (codes and states travel there).
        del size
        path = getattr(self, "path", "").split("?", 1)[0]
        sys.stderr.write(f"{getattr(self, 'command', '-')} {path} -> {code}\n")


def check_host(host: str) -> str:
    """Return ``host`` if it is a loopback name or address (plain http is only for those).

    Raises:
        UsageError: For any other host.
    """
    if host.lower() in _LOOPBACK_NAMES:
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UsageError(
        f"--host {host!r}: the development server speaks plain http, so it only listens on "
        "loopback (127.0.0.1, ::1 or localhost)"
    )


def serve(
    config: DevConfig,
    *,
    host: str,
    port: int,
    auto_approve: str | None,
    json_line: bool = False,
) -> int:
    """Listen, print ``listening on http://HOST:PORT``, serve until SIGINT or SIGTERM.

    With ``json_line``, the ready line is ``{"issuer": "http://HOST:PORT"}`` instead.

    Raises:
        UsageError: On a non-loopback host or a port that cannot be bound.
    """
    check_host(host)
    ipv6 = ":" in host
    server_class = _ThreadingWSGIServer6 if ipv6 else _ThreadingWSGIServer
    try:
        httpd = server_class((host, port), _Handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = httpd.server_address[1]
    issuer = f"http://[{host}]:{bound_port}" if ipv6 else f"http://{host}:{bound_port}"
    try:
        httpd.set_app(DevServer(config, issuer, auto_approve))
    except BaseException:
        httpd.server_close()
        raise

    def stop(signum: int, frame: object) -> None:
        del signum, frame
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    ready = json.dumps({"issuer": issuer}) if json_line else f"listening on {issuer}"
    sys.stdout.write(ready + "\n")
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        httpd.server_close()
    sys.stderr.write("stopped\n")
    return 0
