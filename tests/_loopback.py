"""One scriptable HTTPS (or HTTP) server on 127.0.0.1 for every fetch test (JWKS, CRL, OCSP).

The certificates (a test CA and a leaf for ``127.0.0.1``) come from
:mod:`authcore.mtls._testpki`, the project's one throwaway issuer; nothing leaves the loopback
interface.  A route answers with a fixed :class:`Reply` or with a function of the request body
(OCSP requests are POSTed), and the server counts every request it receives.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.clock import utc_now
from authcore.mtls._testpki import issue, key_usage

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from typing_extensions import Self

    from authcore.jose import JWK

__all__ = ["LoopbackPKI", "Reply", "Route", "Server", "jwks_body", "make_pki", "serve"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoopbackPKI:
    """PEM files of a throwaway CA and a leaf certificate for 127.0.0.1."""

    ca_pem: bytes
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only the test CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


def make_pki(folder: Path) -> LoopbackPKI:
    """Create a CA and a server certificate for ``127.0.0.1`` in ``folder``."""
    now = utc_now()  # certificate validity only, never asserted on
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue(
        "authcore test CA",
        ca_key,
        serial=x509.random_serial_number(),
        not_before=start,
        not_after=end,
        extensions=(
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (key_usage(key_cert_sign=True, crl_sign=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ),
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(
        "127.0.0.1",
        leaf_key,
        issuer=(ca_cert, ca_key),
        serial=x509.random_serial_number(),
        not_before=start,
        not_after=end,
        extensions=(
            (
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            ),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ),
    )
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return LoopbackPKI(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_file=cert_file,
        key_file=key_file,
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the server answers on one path.

    Attributes:
        status: The HTTP status.
        body: The body bytes.
        content_type: The Content-Type header (``None``: none sent).
        headers: Extra headers.
        delay: Seconds to wait before answering (interrupted when the server stops).
        trickle: Seconds to wait between body bytes (a slow sender).
        length: Send a Content-Length header.
    """

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    trickle: float = 0.0
    length: bool = True


Route: TypeAlias = Reply | Callable[[bytes], Reply]
"""A fixed reply, or a function of the request body (empty for GET) returning one."""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        self._answer(self.rfile.read(int(length) if length.isdigit() else 0))

    def _answer(self, body: bytes) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.command, self.path, body))
            route = owner.routes.get(self.path, Reply(status=404, body=b"not found"))
        reply = route if isinstance(route, Reply) else route(body)
        if reply.delay and owner.stopping.wait(reply.delay):
            return
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        if reply.length:
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if reply.trickle:
            for i in range(len(reply.body)):
                if owner.stopping.wait(reply.trickle):
                    return
                self.wfile.write(reply.body[i : i + 1])
                self.wfile.flush()
        else:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Keep test output quiet."""


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client aborts (refused TLS, closed sockets) are expected in these tests."""


class Server:
    """A threaded server on 127.0.0.1 answering GET and POST from a route table."""

    def __init__(self, pki: LoopbackPKI | None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        if pki is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki.cert_file, pki.key_file)
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if pki is not None else "http"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        """The origin, for example ``https://127.0.0.1:41234``."""
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        """The full URL of ``path``."""
        return self.base + path

    def set(self, path: str, reply: Route) -> None:
        """Answer ``path`` with ``reply`` from now on."""
        with self.lock:
            self.routes[path] = reply

    def hits(self, path: str, *, method: str | None = None) -> int:
        """How many requests ``path`` received (of ``method``, if given)."""
        with self.lock:
            return sum(1 for m, p, _ in self.requests if p == path and method in {None, m})

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def serve(pki: LoopbackPKI | None) -> Iterator[Server]:
    """Run a server for the duration of a fixture."""
    with Server(pki) as server:
        yield server


def jwks_body(*keys: JWK) -> bytes:
    """A reply body: the public JWK Set of ``keys`` as JSON bytes."""
    return json.dumps({"keys": [key.public().to_dict() for key in keys]}).encode()
