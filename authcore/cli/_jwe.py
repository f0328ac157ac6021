"""``authcore jwe encrypt|decrypt``: JSON Web Encryption from the command line.

Keys come from files only (``--key-file``; never from argv): a JWK, a JWK Set (decrypt), or a
PEM key (give ``--key-alg`` to bind it).  A PBES2 password is an ``oct`` JWK whose ``k`` is the
base64url password.  ``encrypt`` reads the plaintext (a file or ``-``) and prints the token;
``decrypt`` reads a compact or JSON token and writes the plaintext bytes.  Decryption needs
explicit ``--alg`` and ``--enc`` lists, exactly like :func:`authcore.jose.jwe.decrypt`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import (
    add_json_option,
    payload_members,
    read_input,
    write_json,
    write_output,
)
from authcore.errors import AuthcoreError, UsageError

if TYPE_CHECKING:
    import argparse

    from authcore.jose import JWK, KeySet


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jwe`` subcommand with ``encrypt`` and ``decrypt``."""
    parser = subparsers.add_parser(
        "jwe",
        help="encrypt and decrypt JSON Web Encryption tokens",
        description="Encrypt and decrypt JWE tokens (RFC 7516), compact or JSON.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    enc = actions.add_parser(
        "encrypt",
        help="encrypt a file to a recipient key and print the token",
        description=(
            "Encrypt INPUT (a file, '-' for stdin) to the key in --key-file and print the "
            "compact token (or the JSON serialization with --json / --flattened)."
        ),
    )
    _input_and_key(enc, what="plaintext file", key="recipient JWK or PEM")
    enc.add_argument("--alg", metavar="ALG", help="key management algorithm (default: the key's)")
    enc.add_argument("--enc", required=True, metavar="ENC", help="content encryption, e.g. A256GCM")
    enc.add_argument("--cty", metavar="TYPE", help="content type header (e.g. JWT)")
    enc.add_argument("--compress", action="store_true", help="DEFLATE first (zip: DEF)")
    form = enc.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="general JSON serialization")
    form.add_argument("--flattened", action="store_true", help="flattened JSON serialization")
    enc.add_argument("--out", metavar="PATH", help="write the token to PATH instead of stdout")
    enc.set_defaults(handler=run_encrypt)

    dec = actions.add_parser(
        "decrypt",
        help="decrypt a token and write the plaintext (exit 1 if refused)",
        description=(
            "Decrypt INPUT (a compact or JSON JWE; '-' for stdin) with the key(s) in --key-file "
            "and write the plaintext.  --alg and --enc list what is accepted (required)."
        ),
    )
    _input_and_key(dec, what="token file", key="JWK, JWK Set or PEM")
    dec.add_argument(
        "--alg", action="append", required=True, metavar="ALG", help="accepted alg (repeatable)"
    )
    dec.add_argument(
        "--enc", action="append", required=True, metavar="ENC", help="accepted enc (repeatable)"
    )
    dec.add_argument("--decompress", action="store_true", help="accept zip: DEF")
    dec.add_argument("--max-decompressed", type=int, metavar="BYTES", help="decompression cap")
    dec.add_argument("--p2c-max", type=int, metavar="N", help="largest accepted PBES2 p2c")
    dec.add_argument("--header-out", metavar="PATH", help="also write the header as JSON here")
    dec.add_argument(
        "--out", metavar="PATH", help="write the plaintext to a new file PATH, mode 0600"
    )
    add_json_option(dec, '{"header": ..., "plaintext": ...} (or plaintext_b64url) on stdout')
    dec.set_defaults(handler=run_decrypt)


def _input_and_key(parser: argparse.ArgumentParser, *, what: str, key: str) -> None:
    parser.add_argument("input", nargs="?", default="-", metavar="INPUT", help=what)
    parser.add_argument("--key-file", required=True, metavar="PATH", help=key)
    parser.add_argument("--key-alg", metavar="ALG", help="bind a PEM key (or unbound JWK) to ALG")


def _load_keys(path: str, alg: str | None, *, allow_set: bool) -> JWK | KeySet:
    from authcore._encoding import json_loads  # noqa: PLC0415 - keep `authcore --version` fast
    from authcore.jose import JWK, KeySet  # noqa: PLC0415

    data = read_input(path)
    if not data.lstrip().startswith(b"{"):
        return JWK.from_pem(data, alg=alg)
    try:
        obj = json_loads(data, what=path)
    except AuthcoreError as exc:
        raise UsageError(f"{path}: {exc.detail or exc}") from None
    if "keys" in obj:
        if not allow_set:
            raise UsageError(f"{path}: encrypt to one key, not a JWK Set")
        return KeySet.from_dict(obj)
    return JWK.from_dict(obj, alg=alg)


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def run_encrypt(args: argparse.Namespace) -> int:
    """Encrypt the input and print the token."""
    from authcore.jose import JWK, jwe  # noqa: PLC0415

    key = _load_keys(args.key_file, args.key_alg, allow_set=False)
    if not isinstance(key, JWK):  # pragma: no cover - refused in _load_keys
        raise UsageError("one key is needed")
    plaintext = read_input(args.input)
    headers = {"cty": args.cty} if args.cty else None
    if args.json or args.flattened:
        recipient = jwe.Recipient(key=key, alg=args.alg)
        message = jwe.encrypt_json(
            plaintext,
            recipient,
            enc=args.enc,
            protected=headers,
            compress=args.compress,
            flattened=args.flattened,
        )
        write_output(json.dumps(message, indent=2) + "\n", args.out)
        return 0
    token = jwe.encrypt(
        plaintext, key, enc=args.enc, alg=args.alg, headers=headers, compress=args.compress
    )
    write_output(token + "\n", args.out)
    return 0


def run_decrypt(args: argparse.Namespace) -> int:
    """Decrypt the token and write the plaintext."""
    from authcore.jose import jwe  # noqa: PLC0415

    keys = _load_keys(args.key_file, args.key_alg, allow_set=True)
    token = read_input(args.input).strip()
    decrypt = jwe.decrypt_json if token.startswith(b"{") else jwe.decrypt
    result = decrypt(
        token,
        keys,
        algorithms=args.alg,
        encryptions=args.enc,
        decompress=args.decompress,
        max_decompressed=_given(args.max_decompressed, jwe.MAX_DECOMPRESSED),
        p2c_max=_given(args.p2c_max, jwe.P2C_MAX),
    )
    if args.json:
        if args.out is not None or args.header_out is not None:
            raise UsageError("--json prints to standard output: drop --out/--header-out")
        shown = payload_members(result.plaintext, "plaintext")
        write_json({"header": dict(result.header), **shown})
        return 0
    if args.header_out:
        write_output(
            json.dumps(dict(result.header), indent=2, sort_keys=True) + "\n", args.header_out
        )
    write_output(result.plaintext, args.out, private=True)  # plaintext: as secret as a key
    return 0
