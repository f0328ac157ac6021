"""``authcore jwk generate|public|thumbprint``, and the key loading shared by ``jws`` and ``jwt``.

Keys come from a file or an environment variable (``--key-file``/``--key-env``), never from
argv: a JWK (JSON object), a JWK Set (``{"keys": [...]}``) or a PEM/DER key.  Raw HMAC secrets
use ``--secret-file``/``--secret-env`` with an HS algorithm.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from authcore._encoding import json_loads
from authcore.cli._common import (
    add_json_option,
    add_secret_options,
    read_input,
    read_secret,
    write_json,
    write_output,
)
from authcore.errors import AuthcoreError, UsageError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from authcore.jose import JWK, KeySet


def add_key_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """Add ``--key-file/--key-env`` and ``--secret-file/--secret-env``."""
    add_secret_options(parser, "key", help_name=f"{what} (JWK, JWK Set, or PEM/DER)")
    add_secret_options(parser, "secret", help_name="raw HMAC secret (with an HS --alg)")


def load_keys(args: argparse.Namespace, *, alg: str | None, bind: bool = False) -> KeySet:
    """Load the key(s) named by the key options as a KeySet.

    ``alg`` makes a raw secret an HMAC key; with ``bind`` it also binds a PEM/DER key.

    Raises:
        UsageError: If no key option was given or the key cannot be loaded.
    """
    from authcore.jose import JWK, KeySet  # noqa: PLC0415 - keep `authcore --help` fast

    secret = read_secret(args, "secret", required=False)
    if secret is not None:
        if alg is None or not alg.startswith("HS"):
            raise UsageError("--secret-file/--secret-env need an HS256/HS384/HS512 --alg")
        with _key_errors():
            return KeySet([JWK.from_secret(secret, alg=alg)])
    # A key file is read as is: read_secret strips trailing newlines, which would corrupt DER.
    path: str | None = getattr(args, "key_file", None)
    data = read_input(path) if path is not None else read_secret(args, "key", required=False)
    if not data:
        raise UsageError("give a key with --key-file/--key-env (or --secret-file/--secret-env)")
    with _key_errors():
        if not data.lstrip().startswith(b"{"):
            return KeySet([JWK.from_pem(data, alg=alg if bind else None)])
        members = json_loads(data, what="key file")
        if isinstance(members, dict) and "keys" in members:
            return KeySet.from_dict(members)
        return KeySet([JWK.from_dict(members)])


def load_signing_key(args: argparse.Namespace, *, alg: str | None) -> JWK:
    """Load exactly one private key (or secret) for signing.

    Raises:
        UsageError: If the source holds no key, several keys, or a public key.
    """
    keys = list(load_keys(args, alg=alg, bind=True))
    if len(keys) != 1:
        raise UsageError(f"signing needs exactly one key, the file has {len(keys)}")
    key = keys[0]
    if not key.is_private:
        raise UsageError("signing needs a private key; this one is public")
    return key


@contextlib.contextmanager
def _key_errors() -> Iterator[None]:
    try:
        yield
    except AuthcoreError as exc:
        raise UsageError(f"cannot load the key: {exc.detail or exc}") from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jwk`` subcommand with ``generate``, ``public`` and ``thumbprint``."""
    parser = subparsers.add_parser(
        "jwk",
        help="generate JSON Web Keys, print public keys and thumbprints",
        description="Generate JSON Web Keys, derive public keys and RFC 7638 thumbprints.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    generate = actions.add_parser(
        "generate",
        help="generate a private key bound to an algorithm",
        description=(
            "Print a new private JWK bound to --alg (use 'jwk public' to share it).  --alg is a "
            "JWS algorithm, a JWE key management algorithm, or a JWE content encryption such as "
            "A256GCM for a 'dir' key of that size."
        ),
    )
    generate.add_argument(
        "--alg",
        required=True,
        help="HS256, RS256, ES256, EdDSA, ..., RSA-OAEP-256, ECDH-ES, A256KW, A256GCM (dir), ...",
    )
    generate.add_argument(
        "--crv", help="curve for ECDH-ES (P-256, P-384, P-521, X25519, X448) or EdDSA (Ed448)"
    )
    generate.add_argument("--kid", help="key id (default: the RFC 7638 thumbprint)")
    generate.add_argument("--pem", action="store_true", help="print PKCS#8 PEM instead of JSON")
    generate.add_argument(
        "--out",
        metavar="PATH",
        help="write to a new file PATH, mode 0600 (never over an existing file), not stdout",
    )
    add_json_option(generate, "the private JWK (the default output)")
    generate.set_defaults(handler=run_generate)

    public = actions.add_parser(
        "public",
        help="print the public key(s) as a JWK (Set)",
        description="Print the public half of a key (or every key of a JWK Set) as JSON.",
    )
    add_key_options(public, what="private or public key")
    public.add_argument("--pem", action="store_true", help="print SubjectPublicKeyInfo PEM")
    add_json_option(public, "the public JWK (Set) (the default output)")
    public.set_defaults(handler=run_public)

    thumb = actions.add_parser(
        "thumbprint",
        help="print the RFC 7638 thumbprint",
        description="Print the RFC 7638 SHA-256 thumbprint of each key, one per line.",
    )
    add_key_options(thumb, what="key")
    add_json_option(thumb, '{"thumbprints": [{"kid": ..., "thumbprint": ...}]}')
    thumb.set_defaults(handler=run_thumbprint)


def run_generate(args: argparse.Namespace) -> int:
    """Generate a key and print it."""
    from authcore.jose import JWK  # noqa: PLC0415

    try:
        key = JWK.generate(args.alg, kid=args.kid, crv=args.crv)
    except AuthcoreError as exc:
        raise UsageError(f"--alg/--crv: {exc.detail or exc}") from None
    if args.pem and args.json:
        raise UsageError("--pem and --json are alternatives: choose one")
    if args.pem:
        if key.is_symmetric:
            raise UsageError("symmetric keys have no PEM form; drop --pem")
        write_output(key.to_pem(), args.out, private=True)
    else:
        write_output(json.dumps(key.to_dict(private=True), indent=2) + "\n", args.out, private=True)
    return 0


def run_public(args: argparse.Namespace) -> int:
    """Print the public key(s)."""
    keys = list(load_keys(args, alg=None))
    if any(key.is_symmetric for key in keys):
        raise UsageError("symmetric keys have no public half")
    publics = [key.public() for key in keys]
    if args.pem and args.json:
        raise UsageError("--pem and --json are alternatives: choose one")
    if args.pem:
        write_output(b"".join(key.to_pem() for key in publics))
    elif len(publics) == 1:
        write_output(json.dumps(publics[0].to_dict(), indent=2) + "\n")
    else:
        write_output(json.dumps({"keys": [k.to_dict() for k in publics]}, indent=2) + "\n")
    return 0


def run_thumbprint(args: argparse.Namespace) -> int:
    """Print each key's thumbprint."""
    keys = load_keys(args, alg=None)
    if args.json:
        write_json({"thumbprints": [{"kid": k.kid, "thumbprint": k.thumbprint()} for k in keys]})
    else:
        write_output("".join(f"{key.thumbprint()}\n" for key in keys))
    return 0
