"""``authcore apikey``: generate keys, check their format offline, hash them for storage.

Secrets never come from argv: peppers only through ``--pepper-file``/``--pepper-env``, written
as :func:`authcore.apikeys.decode_pepper` reads them (``base64:...`` or ``hex:...``); a token
to check or hash comes from ``--token-file``/``--token-env`` or standard input. A token given
as an argument is refused with a one-line explanation: argv lands in shell history and in every
other user's ``ps`` output, and a key that was exposed there must be rotated.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from authcore.cli._common import add_secret_options, read_input, read_secret, write_output
from authcore.errors import UsageError

if TYPE_CHECKING:
    from authcore.apikeys import KeyHasher


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``apikey`` subcommand and its ``new``, ``check`` and ``hash`` actions."""
    parser = subparsers.add_parser(
        "apikey",
        help="generate, check and hash API keys",
        description="Generate API keys, check their format and checksum offline, and hash "
        "them for storage with a pepper.",
    )
    actions = parser.add_subparsers(
        title="actions", metavar="ACTION", parser_class=type(parser), required=True
    )

    new = actions.add_parser(
        "new",
        help="generate a key; with a pepper, also its storage hash",
        description="Generate a new API key: prints the token (show it once), its key id and, "
        "given a pepper, the hash to store.",
    )
    new.add_argument("--prefix", required=True, help="the key prefix, for example sk_live")
    _add_pepper_options(new)
    _add_json_option(new)
    new.set_defaults(handler=_new)

    check = actions.add_parser(
        "check",
        help="check a key's format and checksum offline",
        description="Check a token's prefix, charset, length and CRC32 checksum without any "
        "store; exit 1 if it is malformed.",
    )
    # Not an option users should use: kept only to refuse it with a clear line (see _token).
    check.add_argument("token", nargs="?", default=None, help=argparse.SUPPRESS)
    add_secret_options(check, "token", help_name="token")
    check.add_argument("--prefix", help="also require this prefix")
    _add_json_option(check)
    check.set_defaults(handler=_check)

    hasher = actions.add_parser(
        "hash",
        help="print the storage hash of a key (pepper from a file or the environment)",
        description="Read a token (stdin by default), check it, and print the hash of its "
        "secret under the pepper: the value a key store keeps.",
    )
    _add_pepper_options(hasher)
    add_secret_options(hasher, "token", help_name="token")
    _add_json_option(hasher)
    hasher.set_defaults(handler=_hash)


def _add_pepper_options(parser: argparse.ArgumentParser) -> None:
    add_secret_options(
        parser, "pepper", help_name="pepper: 'base64:...' or 'hex:...', 32 bytes or more"
    )
    parser.add_argument("--pepper-id", default="p1", help="the pepper's id in the hash (p1)")


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _hasher(args: argparse.Namespace, *, required: bool) -> KeyHasher | None:
    """The hasher of the --pepper-file/--pepper-env pepper (None when optional and absent)."""
    from authcore.apikeys import KeyHasher, decode_pepper  # noqa: PLC0415 - keep --help instant

    # The one pepper format (decode_pepper): the library reads the same text the same way.
    text = read_secret(args, "pepper", required=required, raw=True)
    return None if text is None else KeyHasher({args.pepper_id: decode_pepper(text)})


def _emit(args: argparse.Namespace, fields: dict[str, str]) -> None:
    if args.json:
        write_output(json.dumps(fields, sort_keys=True) + "\n")
    else:
        write_output("".join(f"{name}: {value}\n" for name, value in fields.items()))


def _token(args: argparse.Namespace, positional: str | None = None) -> str:
    if positional is not None and positional != "-":
        raise UsageError(
            "a token on the command line leaks into shell history and ps: pipe it on stdin "
            "or use --token-file/--token-env (rotate a key that was exposed this way)"
        )
    raw = read_secret(args, "token", required=False)
    if raw is None:
        raw = read_input("-").rstrip(b"\r\n")
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        from authcore.errors import MalformedKey  # noqa: PLC0415 - only on the error path

        raise MalformedKey("characters outside base62") from None


def _new(args: argparse.Namespace) -> int:
    from authcore.apikeys import generate  # noqa: PLC0415 - keep --help instant

    key = generate(args.prefix)
    fields = {"token": key.token, "key_id": key.key_id}
    hasher = _hasher(args, required=False)
    if hasher is not None:
        fields["hash"] = hasher.hash(key.secret)
    elif not args.json:
        sys.stderr.write("authcore: no pepper given: no storage hash printed\n")
    _emit(args, fields)
    return 0


def _check(args: argparse.Namespace) -> int:
    from authcore.apikeys import parse  # noqa: PLC0415

    parsed = parse(_token(args, args.token), prefix=args.prefix)
    _emit(args, {"status": "ok", "prefix": parsed.prefix, "key_id": parsed.key_id})
    return 0


def _hash(args: argparse.Namespace) -> int:
    from authcore.apikeys import parse  # noqa: PLC0415

    hasher = _hasher(args, required=True)
    assert hasher is not None  # noqa: S101 - required=True returns a hasher or raises
    parsed = parse(_token(args))
    _emit(args, {"key_id": parsed.key_id, "hash": hasher.hash(parsed.secret)})
    return 0
