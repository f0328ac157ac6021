"""Parsing certificates from the forms servers hand over: objects, PEM, DER, ASGI, XFCC.

Every failure is :class:`~authcore.errors.MalformedCertificate`; nothing from the parsers
(``ValueError``, ``UnicodeDecodeError``, cryptography's deprecation warnings) escapes.

Forwarded-certificate headers (``X-Forwarded-Client-Cert`` as Envoy writes it, or a bare
URL-encoded PEM as nginx's ``$ssl_client_escaped_cert`` gives it) are spoofable unless a proxy
you trust strips and sets them, so :func:`chain_from_headers` refuses to read them unless the
caller passes ``trust_forwarded=True``.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias, cast

from cryptography import x509

from authcore.errors import ConfigurationError, DecodeError, MalformedCertificate, MalformedHeader
from authcore.http import percent_decode

__all__ = [
    "MAX_CHAIN_LENGTH",
    "MAX_PEM_BYTES",
    "CertificateInput",
    "ChainInput",
    "chain_from_asgi",
    "chain_from_headers",
    "checked_certificate",
    "load_bundle",
    "load_certificate",
    "load_chain",
    "load_chain_file",
    "load_crl",
    "load_crl_file",
    "read_file",
    "serial_of",
]

MAX_PEM_BYTES: Final = 1 << 20
"""Largest PEM or DER input accepted (1 MiB), checked before any parsing."""

MAX_CHAIN_LENGTH: Final = 64
"""Most certificates accepted in one presented chain (leaf plus intermediates)."""

CertificateInput: TypeAlias = "x509.Certificate | bytes | bytearray | memoryview | str"
"""One certificate, as an object, PEM text or bytes, or DER bytes."""

ChainInput: TypeAlias = "CertificateInput | Sequence[CertificateInput]"
"""A chain, leaf first, as one input holding a PEM bundle or a sequence of certificates."""

_PEM_CERT_RE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]*?-----END CERTIFICATE-----"
)
_PEM_CRL_RE: Final = re.compile(
    rb"-----BEGIN X509 CRL-----\r?\n[A-Za-z0-9+/=\r\n]*?-----END X509 CRL-----"
)


def serial_of(cert: x509.Certificate) -> int:
    """Return the serial number without cryptography's warning for non-positive serials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cert.serial_number


def _as_bytes(data: bytes | bytearray | memoryview | str, what: str) -> bytes:
    if isinstance(data, str):
        try:
            raw = data.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedCertificate(f"{what} PEM text is not ASCII") from None
    else:
        raw = bytes(data)
    if len(raw) > MAX_PEM_BYTES:
        raise MalformedCertificate(f"{what} larger than {MAX_PEM_BYTES} bytes")
    if not raw:
        raise MalformedCertificate(f"{what} is empty")
    return raw


# What cryptography raises on malformed X.509 data: not all of it is a ValueError.
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,  # a malformed name attribute fails in NameAttribute's constructor
    KeyError,  # cryptography 49 raises KeyError: 0 for some malformed certificates and CRLs
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _parsed_fully(cert: x509.Certificate) -> x509.Certificate:
    """Touch the lazily parsed names and extensions so malformed data fails at load time."""
    _ = cert.subject, cert.issuer, cert.extensions
    return cert


def checked_certificate(cert: x509.Certificate, what: str) -> x509.Certificate:
    """Return a certificate object the caller built, once its lazily parsed parts parse.

    ``x509.load_der_x509_certificate`` parses names and extensions on first access, so an
    object handed in can still raise ``ValueError`` deep inside a check; this makes it fail
    here, typed.  cryptography caches what it parsed, so this is cheap on a good certificate.

    Raises:
        MalformedCertificate: If the names or extensions cannot be parsed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _parsed_fully(cert)
    except _PARSE_ERRORS:
        raise MalformedCertificate(f"{what} names or extensions cannot be parsed") from None


def _parse_der(der: bytes, what: str) -> x509.Certificate:
    try:
        with warnings.catch_warnings():
            # Non-positive serials load with a deprecation warning; the chain policy refuses them.
            warnings.simplefilter("ignore")
            return _parsed_fully(x509.load_der_x509_certificate(der))
    except _PARSE_ERRORS:
        raise MalformedCertificate(f"{what} is not a valid DER certificate") from None


def _split_pem(raw: bytes, what: str) -> list[x509.Certificate]:
    blocks = _PEM_CERT_RE.findall(raw)
    if not blocks:
        raise MalformedCertificate(f"{what} holds no PEM certificate")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [_parsed_fully(x509.load_pem_x509_certificate(block)) for block in blocks]
    except _PARSE_ERRORS:
        raise MalformedCertificate(f"{what} holds an invalid PEM certificate") from None


def refuse_path(data: object, what: str, loader: str) -> None:
    """Refuse an ``os.PathLike`` where contents are expected, naming the loader to use.

    Raises:
        ConfigurationError: If ``data`` is a path object.
    """
    if isinstance(data, os.PathLike):
        raise ConfigurationError(f"{what} is a file path, not its contents: use {loader}")


def _encoded(data: object, what: str, loader: str | None) -> bytes:
    """Return PEM or DER input as bytes, refusing paths, other types and anything else.

    Text is never DER, so text without a PEM header (a file name, say) is refused, and so are
    bytes that neither hold a PEM header nor start like DER (a SEQUENCE); the message names
    ``loader`` for reading a file.
    """
    if loader is not None:
        refuse_path(data, what, loader)
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        raise MalformedCertificate(f"{what} has unsupported type {type(data).__name__}")
    raw = _as_bytes(data, what) if not isinstance(data, str) or "-----BEGIN" in data else b""
    if not raw or (raw[:1] != b"\x30" and b"-----BEGIN" not in raw):
        hint = f"; to read a file, use {loader}" if loader else ""
        raise MalformedCertificate(f"{what} is neither PEM nor DER data{hint}")
    return raw


def _load_many(data: object, what: str, loader: str | None) -> list[x509.Certificate]:
    if isinstance(data, x509.Certificate):
        return [checked_certificate(data, what)]
    raw = _encoded(data, what, loader)
    if b"-----BEGIN" in raw:
        return _split_pem(raw, what)
    return [_parse_der(raw, what)]


def read_file(path: object, what: str, *, pem_loader: str) -> bytes:
    """Read a whole file of at most ``MAX_PEM_BYTES``, 1 MiB (certificates, bundles, CRLs).

    Args:
        path: A ``str`` or ``os.PathLike`` naming the file.
        what: What the file holds, for messages.
        pem_loader: The loader for contents, named when ``path`` holds PEM data instead.

    Raises:
        ConfigurationError: If ``path`` is not a path, or the file cannot be read or is larger
            than ``MAX_PEM_BYTES`` (1 MiB).
    """
    if isinstance(path, str) and "-----BEGIN" in path:
        raise ConfigurationError(f"{what} path holds PEM data, not a file name: use {pem_loader}")
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ConfigurationError(f"{what} path must be a str or os.PathLike file name")
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - accepts str and every os.PathLike
            data = handle.read(MAX_PEM_BYTES + 1)
    except (OSError, ValueError, TypeError) as exc:  # ValueError: NUL; TypeError: bytes path
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else "invalid path"
        raise ConfigurationError(f"cannot read {what} file {os.fspath(path)!r}: {detail}") from None
    if len(data) > MAX_PEM_BYTES:
        raise ConfigurationError(f"{what} file is larger than {MAX_PEM_BYTES} bytes")
    return data


def load_certificate(data: CertificateInput) -> x509.Certificate:
    """Load exactly one certificate from an object, PEM or DER.

    Args:
        data: A :class:`~cryptography.x509.Certificate`, PEM text or bytes, or DER bytes.

    Returns:
        The certificate.

    Raises:
        MalformedCertificate: If the data is not exactly one parseable certificate.

    .. versionadded:: 0.1.0
    """
    certs = _load_many(data, "certificate", "load_chain_file(path)")
    if len(certs) != 1:
        raise MalformedCertificate(f"expected one certificate, found {len(certs)}")
    return certs[0]


def load_bundle(data: object, what: str, loader: str) -> list[x509.Certificate]:
    """Load every certificate of a PEM bundle, DER data or object (no chain-length cap).

    Args:
        data: The bundle.
        what: What it is, for messages.
        loader: The file loader to name when ``data`` is a path.

    Raises:
        ConfigurationError: If ``data`` is a path object.
        MalformedCertificate: If the data holds no parseable certificate.
    """
    return _load_many(data, what, loader)


def load_chain(data: ChainInput) -> tuple[x509.Certificate, ...]:
    """Load a presented chain, leaf first, from any accepted form.

    Args:
        data: One certificate input (a PEM bundle may hold the whole chain) or a sequence of
            certificate inputs, leaf first.

    Returns:
        The certificates, leaf first.

    Raises:
        MalformedCertificate: If anything is unparseable (text that is not PEM, say), the chain
            is empty or longer than ``MAX_CHAIN_LENGTH`` (64).
        ConfigurationError: If ``data`` (or an item) is a path object: use
            :func:`load_chain_file`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       A path object is refused naming :func:`load_chain_file`; text without PEM is refused
       as neither PEM nor DER (it used to be tried as DER).
    """
    return _load_chain(data, "load_chain_file(path)")


def _load_chain(data: object, loader: str | None) -> tuple[x509.Certificate, ...]:
    certs: list[x509.Certificate] = []
    if isinstance(data, (x509.Certificate, bytes, bytearray, memoryview, str, os.PathLike)):
        certs = _load_many(data, "chain", loader)
    elif isinstance(data, Sequence):
        for i, item in enumerate(data):
            certs.extend(_load_many(item, f"chain[{i}]", loader))
            if len(certs) > MAX_CHAIN_LENGTH:
                break
    else:
        raise MalformedCertificate(f"chain has unsupported type {type(data).__name__}")
    if not certs:
        raise MalformedCertificate("chain is empty")
    if len(certs) > MAX_CHAIN_LENGTH:
        raise MalformedCertificate(f"chain longer than {MAX_CHAIN_LENGTH} certificates")
    return tuple(certs)


def load_chain_file(path: str | os.PathLike[str]) -> tuple[x509.Certificate, ...]:
    """Read a chain file (PEM bundle, leaf first, or one DER certificate).

    Args:
        path: The file name.

    Returns:
        The certificates, leaf first, as :func:`load_chain` returns them.

    Raises:
        ConfigurationError: If the file cannot be read, is larger than ``MAX_PEM_BYTES``
            (1 MiB), or ``path`` holds PEM data instead of a file name (use
            :func:`load_chain`).
        MalformedCertificate: If the contents are not a valid chain, as for :func:`load_chain`.

    .. versionadded:: 0.1.0
    """
    return _load_chain(read_file(path, "chain", pem_loader="load_chain(data)"), None)


def load_crl(
    data: x509.CertificateRevocationList | bytes | bytearray | memoryview | str,
) -> list[x509.CertificateRevocationList]:
    """Load CRLs from an object, a PEM bundle or DER.

    Raises:
        MalformedCertificate: If the data holds no parseable CRL (text without PEM included).
        ConfigurationError: If ``data`` is a path object: use :func:`load_crl_file`.

    .. versionadded:: 0.1.0
    """
    if isinstance(data, x509.CertificateRevocationList):
        raw = b""
    else:
        raw = _encoded(data, "CRL", "load_crl_file(path)")
    try:
        if isinstance(data, x509.CertificateRevocationList):
            crls = [data]
        elif b"-----BEGIN" in raw:
            blocks = _PEM_CRL_RE.findall(raw)
            if not blocks:
                raise MalformedCertificate("CRL data holds no PEM CRL")
            crls = [x509.load_pem_x509_crl(block) for block in blocks]
        else:
            crls = [x509.load_der_x509_crl(raw)]
        with warnings.catch_warnings():
            # Non-positive serials parse with a deprecation warning; they are just not matched.
            warnings.simplefilter("ignore")
            for crl in crls:
                _parse_fully(crl)
    except _PARSE_ERRORS:
        raise MalformedCertificate("CRL data is not a valid CRL") from None
    return crls


def load_crl_file(path: str | os.PathLike[str]) -> list[x509.CertificateRevocationList]:
    """Read a CRL file (PEM, one or more CRLs, or one DER CRL).

    Raises:
        ConfigurationError: If the file cannot be read, is larger than ``MAX_PEM_BYTES``
            (1 MiB), or ``path`` holds PEM data instead of a file name (use :func:`load_crl`).
        MalformedCertificate: If the contents hold no valid CRL.

    .. versionadded:: 0.1.0
    """
    return load_crl(read_file(path, "CRL", pem_loader="load_crl(data)"))


def _parse_fully(crl: x509.CertificateRevocationList) -> None:
    """Touch every lazily parsed part, so a malformed CRL fails here and not deep inside a check.

    cryptography parses a CRL's names, extensions and entries on first access and raises
    ``ValueError`` or ``DuplicateExtension`` then; a CRL that passes this is safe to use.
    """
    _ = crl.issuer, crl.extensions, crl.last_update_utc, crl.next_update_utc
    for entry in crl:
        _ = entry.serial_number, entry.revocation_date_utc, entry.extensions


def chain_from_asgi(scope: Mapping[str, object]) -> tuple[x509.Certificate, ...]:
    """Read the client chain from an ASGI scope's TLS extension.

    The ASGI TLS extension puts ``client_cert_chain`` (PEM strings, leaf first) under
    ``scope["extensions"]["tls"]``.

    Raises:
        MalformedCertificate: If the scope carries no client certificate or it is unparseable.
        ConfigurationError: If ``scope`` is not a mapping.

    .. versionadded:: 0.1.0
    """
    if not isinstance(scope, Mapping):
        raise ConfigurationError(f"ASGI scope must be a mapping, got {type(scope).__name__}")
    extensions = scope.get("extensions")
    tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
    pems = tls.get("client_cert_chain") if isinstance(tls, Mapping) else None
    if not isinstance(pems, Iterable) or isinstance(pems, (str, bytes)):
        raise MalformedCertificate("ASGI scope has no TLS client certificate chain")
    items = list(itertools.islice(pems, MAX_CHAIN_LENGTH + 1))  # load_chain refuses the extra
    if not items or not all(isinstance(p, str) for p in items):
        raise MalformedCertificate("ASGI client_cert_chain must be a non-empty list of PEM strings")
    return _load_chain(items, None)


def _xfcc_elements(value: str, header: str) -> list[dict[str, str]]:  # noqa: C901, PLR0912 - a tokenizer
    """Split an XFCC value into elements of key=value pairs (quoted values may hold , ; =)."""
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    i, n = 0, len(value)
    while i < n:
        eq = value.find("=", i)
        if eq < 0:
            raise MalformedHeader(f"{header}: XFCC pair without '='")
        key = value[i:eq].strip().lower()
        i = eq + 1
        if i < n and value[i] == '"':
            end = i + 1
            chars: list[str] = []
            while end < n and value[end] != '"':
                if value[end] == "\\" and end + 1 < n:
                    end += 1
                chars.append(value[end])
                end += 1
            if end >= n:
                raise MalformedHeader(f"{header}: XFCC value has an unterminated quote")
            item = "".join(chars)
            i = end + 1
        else:
            end = i
            while end < n and value[end] not in ",;":
                end += 1
            item = value[i:end].strip()
            i = end
        if key in current:
            raise MalformedHeader(f"{header}: XFCC element repeats {key[:40]!r}")
        current[key] = item
        while i < n and value[i] == " ":
            i += 1
        if i < n and value[i] == ";":
            i += 1
        elif i < n and value[i] == ",":
            elements.append(current)
            current = {}
            i += 1
        elif i < n:
            raise MalformedHeader(f"{header}: XFCC has text after a value")
    if current:
        elements.append(current)
    return elements


def chain_from_headers(  # noqa: C901 - two header formats
    headers: Mapping[str, str],
    *,
    trust_forwarded: bool,
    header: str = "x-forwarded-client-cert",
) -> tuple[x509.Certificate, ...]:
    """Read a client chain forwarded by a TLS-terminating proxy.

    Two formats are understood: Envoy's ``X-Forwarded-Client-Cert`` (``Cert=`` and ``Chain=``
    keys of the **last** element, the one the nearest proxy wrote), and a bare URL-encoded PEM
    (nginx ``$ssl_client_escaped_cert``) in any header named by ``header``.

    Only call this when a proxy you trust removes the header from client requests and sets it
    itself: otherwise any client can claim any certificate.

    Args:
        headers: The request headers (:class:`authcore.http.Headers` or a mapping).
        trust_forwarded: Must be ``True``; the explicit acknowledgement that a trusted proxy
            sets the header.
        header: The header name.

    Raises:
        ConfigurationError: If ``trust_forwarded`` is not ``True``, ``headers`` is not a mapping
            or ``header`` is not a string.
        MalformedCertificate: If the header is absent or holds no parseable certificate
            (including bad percent-encoding or text that is not UTF-8).
        MalformedHeader: If the header is repeated or its XFCC syntax is broken.

    .. versionadded:: 0.1.0
    """
    if trust_forwarded is not True:
        raise ConfigurationError(
            "forwarded client certificates are spoofable: pass trust_forwarded=True only "
            "behind a proxy that strips and sets the header"
        )
    if not isinstance(headers, Mapping):
        raise ConfigurationError(f"headers must be a mapping, got {type(headers).__name__}")
    if not isinstance(cast("object", header), str) or not header:
        raise ConfigurationError("header must be a non-empty header name")
    getter = getattr(headers, "get_single", None)
    value = getter(header) if callable(getter) else headers.get(header)
    if not isinstance(value, str) or not value.strip():
        raise MalformedCertificate(f"no forwarded certificate in {header}")
    if len(value) > 4 * MAX_PEM_BYTES:
        raise MalformedCertificate(f"{header} is too large")
    stripped = value.strip()
    if stripped.startswith("-----BEGIN") or stripped[:6].upper() == "%2D%2D":
        return _load_chain(_forwarded_pem(stripped, header), None)
    elements = _xfcc_elements(stripped, header)
    if not elements:
        raise MalformedCertificate(f"no forwarded certificate in {header}")
    last = elements[-1]
    encoded = last.get("chain") or last.get("cert")
    if not encoded:
        raise MalformedCertificate(f"{header} element carries no Cert or Chain")
    chain = _load_chain(_forwarded_pem(encoded, header), None)
    if "chain" in last and "cert" in last:
        leaf = _load_chain(_forwarded_pem(last["cert"], header), None)[0]
        if leaf != chain[0]:
            raise MalformedCertificate(f"{header} Cert differs from the first Chain certificate")
    return chain


def _forwarded_pem(encoded: str, header: str) -> str:
    """Percent-decode a forwarded certificate strictly; it must then hold PEM."""
    try:
        pem = percent_decode(encoded)
    except DecodeError as exc:
        raise MalformedCertificate(f"{header} certificate: {exc.reason}") from None
    if "-----BEGIN" not in pem:
        raise MalformedCertificate(f"{header} certificate is not URL-encoded PEM")
    return pem
