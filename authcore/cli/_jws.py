"""``authcore jws sign|verify``: compact JWS from the command line.

``sign`` reads the payload from ``--in`` (default stdin) and prints the compact serialization;
``verify`` reads the token from ``--token-file``/``--token-env`` (default stdin), checks it
against ``--alg`` (repeatable, required) and the key(s), and prints the payload; exit 1 with the
reason if it is refused.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import (
    add_json_option,
    add_secret_options,
    payload_members,
    read_input,
    read_secret,
    write_json,
    write_output,
)
from authcore.cli._jwk import add_key_options, load_keys, load_signing_key
from authcore.errors import EncodeError, UnsupportedAlgorithm, UsageError

if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jws`` subcommand with ``sign`` and ``verify``."""
    parser = subparsers.add_parser(
        "jws",
        help="sign and verify compact JSON Web Signatures",
        description="Sign and verify compact JWS (RFC 7515), detached and unencoded payloads.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    sign = actions.add_parser(
        "sign",
        help="sign a payload",
        description="Sign the bytes of --in (default stdin) and print the compact JWS.",
    )
    add_key_options(sign, what="private key")
    sign.add_argument("--alg", help="algorithm (default: the key's alg)")
    sign.add_argument("--in", dest="input", default="-", metavar="PATH", help="payload file")
    sign.add_argument("--header", metavar="JSON", help="extra protected header members (JSON)")
    sign.add_argument("--detached", action="store_true", help="leave the payload segment empty")
    sign.add_argument(
        "--unencoded", action="store_true", help="RFC 7797 b64=false (sets crit for you)"
    )
    add_json_option(sign, '{"token": ...}')
    sign.set_defaults(handler=run_sign)

    verify = actions.add_parser(
        "verify",
        help="verify a compact JWS and print its payload",
        description="Verify a compact JWS and print its payload; exit 1 if it is refused.",
    )
    add_key_options(verify, what="verification key(s)")
    add_secret_options(verify, "token", help_name="token (default: stdin)")
    verify.add_argument(
        "--alg", action="append", required=True, help="an accepted algorithm (repeatable)"
    )
    verify.add_argument("--detached-payload", metavar="PATH", help="the payload of a detached JWS")
    verify.add_argument("--header", action="store_true", help="print the header as JSON first")
    add_json_option(verify, '{"header": ..., "payload": ...} (payload as text, or payload_b64url)')
    verify.set_defaults(handler=run_verify)


def _headers(text: str | None) -> dict[str, object]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise UsageError("--header must be a JSON object") from None
    if not isinstance(value, dict):
        raise UsageError("--header must be a JSON object")
    return value


def read_token(args: argparse.Namespace) -> str:
    """The token from ``--token-file``/``--token-env`` or stdin, surrounding whitespace removed."""
    data = read_secret(args, "token", required=False)
    if data is None:
        data = read_input("-")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise UsageError("the token is not ASCII text") from None


def run_sign(args: argparse.Namespace) -> int:
    """Sign the payload and print the token."""
    from authcore.jose import jws  # noqa: PLC0415

    key = load_signing_key(args, alg=args.alg)
    headers = _headers(args.header)
    if args.alg:
        headers["alg"] = args.alg
    if args.unencoded:
        headers["b64"] = False
    payload = read_input(args.input)
    try:
        token = jws.sign(payload, key, headers=headers or None, detached=args.detached)
    except (EncodeError, UnsupportedAlgorithm) as exc:
        raise UsageError(str(exc.detail or exc)) from None
    if args.json:
        write_json({"token": token})
    else:
        write_output(token + "\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Verify the token and print the payload."""
    from authcore.jose import jws  # noqa: PLC0415

    keys = load_keys(args, alg=args.alg[0] if len(args.alg) == 1 else None)
    token = read_token(args)
    detached = read_input(args.detached_payload) if args.detached_payload else None
    result = jws.verify(token, keys, algorithms=args.alg, detached_payload=detached)
    if args.json:
        write_json({"header": dict(result.header), **payload_members(result.payload)})
        return 0
    if args.header:
        write_output(json.dumps(dict(result.header), sort_keys=True) + "\n")
    write_output(result.payload)
    return 0
