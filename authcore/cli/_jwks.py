"""``authcore jwks fetch|discover|show``: inspect published JSON Web Key Sets.

``fetch URL`` downloads a JWK Set with the rules of :func:`authcore.jose.jwks.urllib_fetcher`
(https only, same-origin redirects, content type and size checks), validates it as a public
set, and prints one line per key: kid, key type, algorithm, size or curve, and the RFC 7638
thumbprint.  ``discover ISSUER`` reads the issuer's RFC 8414 / OpenID Connect metadata, checks
its ``issuer``, then does the same for its ``jwks_uri``.  ``show FILE`` validates and prints a
local JWKS file.  A refused set or a failed fetch exits 2 with the reason; a key left out of a
set as unusable (too weak, broken) is named on stderr and the other keys are listed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from authcore.cli._common import read_input, write_output
from authcore.errors import UsageError

if TYPE_CHECKING:
    import argparse
    import ssl

    from authcore.jose import JWK, KeySet
    from authcore.jose.jwks import SkippedKey


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jwks`` subcommand with ``fetch``, ``discover`` and ``show``."""
    parser = subparsers.add_parser(
        "jwks",
        help="fetch, discover and inspect JWK Sets (keys and thumbprints)",
        description="Fetch and validate JSON Web Key Sets; print kids and RFC 7638 thumbprints.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    fetch = actions.add_parser(
        "fetch",
        help="download a JWKS and list its keys",
        description=(
            "GET the JWK Set at URL (https; http only to loopback with --allow-http-loopback), "
            "validate it as a public key set and print each key with its thumbprint."
        ),
    )
    fetch.add_argument("url", metavar="URL", help="the https URL of the JWK Set")
    _network_options(fetch)
    fetch.set_defaults(handler=run_fetch)

    discover = actions.add_parser(
        "discover",
        help="read an issuer's metadata, then fetch its jwks_uri",
        description=(
            "Read ISSUER's RFC 8414 (then OpenID Connect) metadata, require its issuer to equal "
            "ISSUER exactly, then fetch and list the keys at its jwks_uri."
        ),
    )
    discover.add_argument("issuer", metavar="ISSUER", help="the issuer identifier (https URL)")
    _network_options(discover)
    discover.set_defaults(handler=run_discover)

    show = actions.add_parser(
        "show",
        help="validate a local JWKS file and list its keys",
        description="Validate FILE as a public JWK Set and print each key with its thumbprint.",
    )
    show.add_argument("file", metavar="FILE", help="the JWKS file ('-' for stdin)")
    show.add_argument("--json", action="store_true", help="print the keys as JSON")
    show.set_defaults(handler=run_show)


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cafile", metavar="PATH", help="trust only the CA certificates in PATH")
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="default 5 seconds"
    )
    parser.add_argument(
        "--max-bytes", type=int, default=262_144, metavar="N", help="size cap (default 256 KiB)"
    )
    parser.add_argument(
        "--allow-http-loopback",
        action="store_true",
        help="accept http:// URLs to 127.0.0.1, ::1 or localhost (testing only)",
    )
    parser.add_argument("--json", action="store_true", help="print the keys as JSON")


def _context(cafile: str | None, option: str = "--cafile") -> ssl.SSLContext | None:
    if cafile is None:
        return None
    import ssl  # noqa: PLC0415 - only when a CA file is given

    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load {option} {cafile}: {exc.strerror or exc}") from None


def add_jwks_url_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--jwks-url`` and its ``--jwks-*`` options (for ``authcore jwt verify``)."""
    parser.add_argument(
        "--jwks-url", metavar="URL", help="verify with the keys of the JWK Set at URL (https)"
    )
    parser.add_argument(
        "--jwks-cafile", metavar="PATH", help="trust only the CA certificates in PATH"
    )
    parser.add_argument(
        "--jwks-timeout", type=float, default=5.0, metavar="SECONDS", help="default 5 seconds"
    )
    parser.add_argument(
        "--jwks-allow-http-loopback",
        action="store_true",
        help="accept an http:// --jwks-url to 127.0.0.1, ::1 or localhost (testing only)",
    )


def keys_from_jwks_url(args: argparse.Namespace) -> KeySet:
    """Fetch and validate the key set named by ``--jwks-url`` (see :func:`add_jwks_url_options`).

    Raises:
        UsageError: If the CA file cannot be loaded.
        ConfigurationError: If the URL is refused.
        FetchError: If the fetch fails or the set is refused.
    """
    from authcore.jose.jwks import DEFAULT_MAX_BYTES  # noqa: PLC0415 - fast --version

    return _fetch_keys(
        args.jwks_url,
        timeout=args.jwks_timeout,
        max_bytes=DEFAULT_MAX_BYTES,
        allow_http_loopback=args.jwks_allow_http_loopback,
        context=_context(args.jwks_cafile, "--jwks-cafile"),
    )


def _describe(key: JWK) -> dict[str, Any]:
    members = key.to_dict()
    if key.kty.value == "RSA":
        from authcore._encoding import b64url_decode  # noqa: PLC0415

        size: str | None = f"{len(b64url_decode(members['n'])) * 8} bits"
    else:
        size = key.crv
    return {
        "kid": key.kid,
        "kty": key.kty.value,
        "alg": key.alg,
        "use": key.use,
        "size": size,
        "thumbprint": key.thumbprint(),
    }


def _print_keys(keys: KeySet, *, as_json: bool, header: list[str] | None = None) -> None:
    rows = [_describe(key) for key in keys]
    if as_json:
        write_output(json.dumps(rows, indent=2) + "\n")
        return
    columns = ("kid", "kty", "alg", "size", "thumbprint")
    lines = [*(header or []), *("  ".join(str(row[c] or "-") for c in columns) for row in rows)]
    write_output("\n".join(lines) + "\n")


def _fetch_keys(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_http_loopback: bool,
    context: ssl.SSLContext | None,
) -> KeySet:
    from authcore.jose.jwks import parse_jwks, urllib_fetcher  # noqa: PLC0415 - fast --version

    fetch = urllib_fetcher(
        url,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http_loopback=allow_http_loopback,
        ssl_context=context,
    )
    return parse_jwks(fetch(), on_skip=_warn_skipped)


def _warn_skipped(entry: SkippedKey) -> None:
    """Name a key left out of a set as unusable, on stderr (the set is still listed)."""
    import sys  # noqa: PLC0415 - only when a key is skipped

    kid = "a key without kid" if entry.kid is None else f"kid {entry.kid[:40]!r}"
    sys.stderr.write(f"authcore: skipped {kid}: {entry.reason}\n")


def _fetch(url: str, args: argparse.Namespace) -> KeySet:
    return _fetch_keys(
        url,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        allow_http_loopback=args.allow_http_loopback,
        context=_context(args.cafile),
    )


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch, validate and list a JWKS."""
    _print_keys(_fetch(args.url, args), as_json=args.json)
    return 0


def run_discover(args: argparse.Namespace) -> int:
    """Discover the issuer's jwks_uri, then fetch and list it."""
    from authcore.jose.jwks import discover  # noqa: PLC0415 - fast --version

    metadata = discover(
        args.issuer,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        allow_http_loopback=args.allow_http_loopback,
        ssl_context=_context(args.cafile),
    )
    keys = _fetch(metadata.jwks_uri, args)
    if args.json:
        rows = [_describe(key) for key in keys]
        document = {"issuer": metadata.issuer, "jwks_uri": metadata.jwks_uri, "keys": rows}
        write_output(json.dumps(document, indent=2) + "\n")
        return 0
    header = [
        f"issuer: {metadata.issuer}",
        f"metadata: {metadata.source}",
        f"jwks_uri: {metadata.jwks_uri}",
    ]
    _print_keys(keys, as_json=False, header=header)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Validate and list a local JWKS file."""
    from authcore.jose.jwks import parse_jwks  # noqa: PLC0415 - fast --version

    _print_keys(parse_jwks(read_input(args.file), on_skip=_warn_skipped), as_json=args.json)
    return 0
