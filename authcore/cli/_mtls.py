"""``authcore mtls verify|thumbprint``: X.509 chains from the command line.

``verify`` checks a certificate chain (leaf first, PEM or DER) against ``--ca`` anchors, as a
TLS client certificate or, with ``--server-name``, as a server certificate; ``--crl`` adds CRL
revocation checking (hard-fail).  Exit 0 and print the identity, or exit 1 with the reason.
``thumbprint`` prints the RFC 8705 ``x5t#S256`` of the first certificate in a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from authcore.cli._common import (
    add_json_option,
    add_time_option,
    parse_time,
    read_input,
    write_json,
    write_output,
)
from authcore.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from authcore.mtls import ClientIdentity, ServerIdentity


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mtls`` subcommand with ``verify`` and ``thumbprint``."""
    parser = subparsers.add_parser(
        "mtls",
        help="verify X.509 client/server chains, print RFC 8705 thumbprints",
        description="Verify X.509 certificate chains and print RFC 8705 x5t#S256 thumbprints.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    verify = actions.add_parser(
        "verify",
        help="verify a chain against CA anchors (exit 1 if refused)",
        description=(
            "Verify CERT (a PEM bundle, leaf first, or one DER certificate) against the --ca "
            "anchors: as a TLS client certificate, or as a server certificate for "
            "--server-name.  Prints the verified identity; exit 1 with the reason if refused."
        ),
    )
    verify.add_argument("cert", metavar="CERT", help="the chain to verify ('-' for stdin)")
    verify.add_argument(
        "--ca", action="append", required=True, metavar="PATH", help="trust anchors (repeatable)"
    )
    verify.add_argument("--crl", action="append", default=[], metavar="PATH", help="a CRL file")
    verify.add_argument("--server-name", metavar="NAME", help="verify as a server for this name")
    add_time_option(verify)
    verify.add_argument(
        "--no-require-eku",
        action="store_true",
        help="accept a leaf without an explicit clientAuth/serverAuth EKU",
    )
    verify.add_argument(
        "--require-key-identifiers",
        action="store_true",
        help="refuse CAs without subjectKeyIdentifier, intermediates without an AKI keyIdentifier",
    )
    verify.add_argument("--json", action="store_true", help="print the identity as JSON")
    verify.set_defaults(handler=run_verify)

    thumb = actions.add_parser(
        "thumbprint",
        help="print the x5t#S256 thumbprint of a certificate",
        description="Print the RFC 8705 x5t#S256 thumbprint of the first certificate in CERT.",
    )
    thumb.add_argument("cert", metavar="CERT", help="a PEM or DER certificate ('-' for stdin)")
    add_json_option(thumb, '{"x5t#S256": ...}')
    thumb.set_defaults(handler=run_thumbprint)

    pki = actions.add_parser(
        "testpki",
        help="write a throwaway root, intermediate, server and client certificate set",
        description=(
            "Write a throwaway P-256 PKI into the new directory DIR for local mTLS development "
            "(as mkcert does; never for production): root.pem (the trust anchor), "
            "intermediate.pem, server.pem and client.pem (leaf then intermediate), server.key "
            "and client.key (mode 0600).  The CA keys are discarded."
        ),
    )
    pki.add_argument("dir", metavar="DIR", help="a directory to create (must not exist)")
    pki.add_argument(
        "--dns",
        action="append",
        metavar="NAME",
        help="a DNS name of the server certificate (repeatable; default: localhost)",
    )
    pki.add_argument(
        "--client-dns", action="append", default=[], metavar="NAME", help="a client DNS name"
    )
    pki.add_argument(
        "--spiffe-id",
        metavar="URI",
        default="spiffe://example.test/workload/client",
        help="the client's SPIFFE ID (default: spiffe://example.test/workload/client)",
    )
    pki.add_argument("--days", type=int, default=30, help="validity in days (default: 30)")
    pki.add_argument("--json", action="store_true", help="print the files written as JSON")
    pki.set_defaults(handler=run_testpki)


def run_verify(args: argparse.Namespace) -> int:
    """Verify the chain and print the identity."""
    from authcore.mtls import (  # noqa: PLC0415 - keep `authcore --version` fast
        CRLChecker,
        TrustStore,
        verify_client,
        verify_server,
    )

    now = parse_time(args.time)
    anchors = b"".join(read_input(path) for path in args.ca)
    trust = (
        TrustStore.from_pem(anchors) if b"-----BEGIN" in anchors else TrustStore.from_der(anchors)
    )
    revocation = CRLChecker([read_input(path) for path in args.crl]) if args.crl else None
    chain = read_input(args.cert)
    require_eku = not args.no_require_eku
    key_ids = args.require_key_identifiers
    identity: ClientIdentity | ServerIdentity
    if args.server_name is not None:
        identity = verify_server(
            chain,
            trust=trust,
            server_name=args.server_name,
            now=now,
            revocation=revocation,
            require_eku=require_eku,
            require_key_identifiers=key_ids,
        )
    else:
        identity = verify_client(
            chain,
            trust=trust,
            now=now,
            revocation=revocation,
            require_eku=require_eku,
            require_key_identifiers=key_ids,
        )
    summary: dict[str, object] = {
        "subject": identity.subject_text,
        "x5t#S256": identity.thumbprint,
        "dns_names": list(identity.dns_names),
        "ip_addresses": [str(ip) for ip in identity.ip_addresses],
        "uris": list(identity.uris),
        "emails": list(identity.emails),
        "chain": [cert.subject.rfc4514_string() for cert in identity.chain],
    }
    if args.json:
        write_output(json.dumps(summary, indent=2) + "\n")
        return 0
    lines = [f"OK: {'server' if args.server_name else 'client'} certificate verified"]
    for key, value in summary.items():
        shown = ", ".join(value) or "-" if isinstance(value, list) else str(value)
        lines.append(f"{key}: {shown}")
    write_output("\n".join(lines) + "\n")
    return 0


def run_thumbprint(args: argparse.Namespace) -> int:
    """Print the x5t#S256 thumbprint of the first certificate."""
    from authcore.errors import MalformedCertificate  # noqa: PLC0415
    from authcore.mtls import load_chain, thumbprint  # noqa: PLC0415

    try:
        cert = load_chain(read_input(args.cert))[0]
    except MalformedCertificate as exc:
        raise UsageError(f"{args.cert}: {exc.reason}") from None
    if args.json:
        write_json({"x5t#S256": thumbprint(cert)})
    else:
        write_output(thumbprint(cert) + "\n")
    return 0


_MAX_DAYS = 3650
_MAX_DNS_NAME = 253  # RFC 1035 section 2.3.4, in text form


def run_testpki(args: argparse.Namespace) -> int:
    """Write a throwaway PKI into a new directory."""
    from authcore.clock import utc_now  # noqa: PLC0415
    from authcore.mtls._testpki import make_test_pki  # noqa: PLC0415

    if not 1 <= args.days <= _MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {_MAX_DAYS}")
    spiffe: str | None = args.spiffe_id or None
    if spiffe is not None and not spiffe.startswith("spiffe://"):
        raise UsageError(f"--spiffe-id must start with spiffe://, not {spiffe[:40]!r}")
    names: list[str] = args.dns or ["localhost"]
    for name in [*names, *args.client_dns]:
        usable = name.isascii() and 0 < len(name) <= _MAX_DNS_NAME
        if not usable or any(c in name for c in "/ @:"):
            raise UsageError(f"{name[:40]!r} is not a DNS name")
    target = Path(args.dir)
    try:
        target.mkdir(mode=0o700)
    except FileExistsError:
        raise UsageError(f"{target} exists: testpki writes into a new directory") from None
    except OSError as exc:
        raise UsageError(f"cannot create {target}: {exc.strerror or exc}") from None
    pki = make_test_pki(
        dns_names=names,
        client_dns_names=args.client_dns,
        spiffe_id=spiffe,
        now=utc_now(),
        days=args.days,
    )
    written = []
    for name, data in pki.files.items():
        path = target / name
        write_output(data, str(path), private=name in pki.private)
        written.append(str(path))
    if args.json:
        write_output(
            json.dumps({"files": written, "trust_anchor": str(target / "root.pem")}) + "\n"
        )
    else:
        write_output("".join(f"wrote {path}\n" for path in written))
    return 0
