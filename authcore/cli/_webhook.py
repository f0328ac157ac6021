"""``authcore webhook sign|verify``: webhook signatures from the command line.

Secrets come only from ``--secret-file`` or ``--secret-env`` (one secret per line; several
lines are a rotation: ``sign`` signs with each, ``verify`` accepts any).  The payload is read
from ``--payload-file`` (default: standard input) as raw bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import (
    add_json_option,
    add_secret_options,
    add_time_option,
    parse_time,
    read_input,
    read_secret,
    write_output,
)
from authcore.errors import UsageError

if TYPE_CHECKING:
    import argparse

_SCHEMES = ("standard", "stripe", "github")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``webhook`` subcommand with ``sign`` and ``verify``."""
    parser = subparsers.add_parser(
        "webhook",
        help="sign or verify webhook payloads (Standard Webhooks, Stripe, GitHub)",
        description="Sign or verify webhook payloads: Standard Webhooks, Stripe- or GitHub-style.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    sign = actions.add_parser(
        "sign",
        help="print the signature headers for a payload",
        description="Print the headers to send with a payload, one 'Name: value' per line.",
    )
    _common_options(sign)
    sign.add_argument("--msg-id", help="message id (standard scheme; default: a fresh random id)")
    sign.add_argument(
        "--timestamp", type=int, help="UNIX seconds to sign (default: now; not for github)"
    )
    sign.add_argument("--json", action="store_true", help="print the headers as a JSON object")
    sign.set_defaults(handler=run_sign)

    verify = actions.add_parser(
        "verify",
        help="verify a payload against its headers (exit 1 if refused)",
        description=(
            "Verify a payload.  Headers come from --header (repeatable) and/or --headers-file "
            "('Name: value' lines, as 'webhook sign' prints them).  Exit 0 and print what "
            "was verified, or exit 1 with the reason."
        ),
    )
    _common_options(verify)
    verify.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'", help="a request header"
    )
    verify.add_argument("--headers-file", metavar="PATH", help="read 'Name: value' lines")
    verify.add_argument(
        "--tolerance", type=float, default=300.0, help="seconds of clock skew allowed (300)"
    )
    add_time_option(verify, "--now")
    add_json_option(verify, "the verified delivery (the output is always JSON)")
    verify.set_defaults(handler=run_verify)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheme", choices=_SCHEMES, default="standard", help="default: standard")
    parser.add_argument(
        "--header-prefix",
        metavar="PREFIX",
        help="standard scheme: header-name prefix (default 'webhook-'; 'svix-' for Svix)",
    )
    add_secret_options(parser, "secret", help_name="secret(s), one per line")
    parser.add_argument(
        "--payload-file", default="-", metavar="PATH", help="the raw payload (default: stdin)"
    )


def _secrets(args: argparse.Namespace) -> list[str]:
    if [args.payload_file, args.secret_file].count("-") > 1:
        raise UsageError("the payload and the secret cannot both come from standard input")
    raw = read_secret(args, "secret")
    if raw is None:  # pragma: no cover - read_secret raises when required
        raise UsageError("give the secret with --secret-file PATH or --secret-env VAR")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the secret is not UTF-8 text") from None
    secrets = [line.strip() for line in text.splitlines() if line.strip()]
    if not secrets:
        raise UsageError("the secret is empty")
    return secrets


def run_sign(args: argparse.Namespace) -> int:
    """Sign the payload and print the headers."""
    from authcore.webhooks import DEFAULT_HEADER_PREFIX, github, sign, stripe  # noqa: PLC0415

    secrets = _secrets(args)
    _check_prefix(args)
    if args.scheme != "standard":
        if len(secrets) != 1:
            raise UsageError(f"--scheme {args.scheme} signs with exactly one secret")
        if args.msg_id:
            raise UsageError(f"--msg-id is not part of the {args.scheme} scheme")
    if args.scheme == "github" and args.timestamp is not None:
        raise UsageError("the github scheme has no timestamp")
    payload = read_input(args.payload_file)
    timestamp = args.timestamp  # None: the library signs with the current time
    if args.scheme == "standard":
        headers = sign(
            payload,
            secrets,
            msg_id=args.msg_id,
            timestamp=timestamp,
            header_prefix=args.header_prefix or DEFAULT_HEADER_PREFIX,
        )
    elif args.scheme == "stripe":
        headers = {"Stripe-Signature": stripe.sign(payload, secrets[0], timestamp=timestamp)}
    else:
        headers = {"X-Hub-Signature-256": github.sign(payload, secrets[0])}
    if args.json:
        write_output(json.dumps(headers, indent=2) + "\n")
    else:
        write_output("".join(f"{name}: {value}\n" for name, value in headers.items()))
    return 0


def _check_prefix(args: argparse.Namespace) -> None:
    if args.header_prefix is not None and args.scheme != "standard":
        raise UsageError("--header-prefix applies to the standard scheme only")


def _parse_header_line(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"header {line[:40]!r} is not 'Name: value'")
    return name.strip(), value.strip()


def _headers(args: argparse.Namespace) -> list[tuple[str, str]]:
    lines: list[str] = []
    if args.headers_file:
        if args.headers_file == "-" and args.payload_file == "-":
            raise UsageError("the payload and the headers cannot both come from standard input")
        try:
            text = read_input(args.headers_file).decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("the headers file is not UTF-8 text") from None
        lines.extend(line for line in text.splitlines() if line.strip())
    lines.extend(args.header)
    if not lines:
        raise UsageError("give the request headers with --header or --headers-file")
    return [_parse_header_line(line) for line in lines]


def run_verify(args: argparse.Namespace) -> int:
    """Verify the payload; print what was verified."""
    now = parse_time(args.time)
    from authcore.webhooks import (  # noqa: PLC0415 - keep --help fast
        DEFAULT_HEADER_PREFIX,
        github,
        stripe,
        verify,
    )

    if args.tolerance < 0:
        raise UsageError("--tolerance must not be negative")
    secrets = _secrets(args)
    _check_prefix(args)
    headers = _headers(args)
    payload = read_input(args.payload_file)
    summary: dict[str, object]
    if args.scheme == "standard":
        verified = verify(
            payload,
            headers,
            secrets,
            tolerance=args.tolerance,
            now=now,
            header_prefix=args.header_prefix or DEFAULT_HEADER_PREFIX,
        )
        summary = {
            "scheme": "standard",
            "msg_id": verified.msg_id,
            "timestamp": verified.timestamp,
            "version": verified.version,
            "key_index": verified.key_index,
        }
    elif args.scheme == "stripe":
        found = stripe.verify(
            payload, headers, secrets, tolerance=args.tolerance, now=parse_time(args.time)
        )
        summary = {"scheme": "stripe", "timestamp": found.timestamp, "key_index": found.key_index}
    else:
        checked = github.verify(payload, headers, secrets)
        summary = {"scheme": "github", "key_index": checked.key_index}
    write_output(json.dumps(summary) + "\n")
    return 0
