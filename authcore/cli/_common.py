"""Helpers shared by the subcommands: reading inputs and secrets, one-line failures.

Secrets never come from argv (it is visible to every user of the machine through ``ps`` and
lands in shell history): subcommands take ``--<name>-file PATH`` (``-`` for standard input) or
``--<name>-env VARIABLE``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from authcore.errors import UsageError

if TYPE_CHECKING:
    import argparse

__all__ = ["add_secret_options", "read_input", "read_secret", "write_output"]


def add_secret_options(parser: argparse.ArgumentParser, name: str, *, help_name: str) -> None:
    """Add mutually exclusive ``--NAME-file`` and ``--NAME-env`` options."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{name}-file", metavar="PATH", help=f"read the {help_name} from PATH ('-' for stdin)"
    )
    group.add_argument(
        f"--{name}-env", metavar="VAR", help=f"read the {help_name} from environment variable VAR"
    )


def add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--json``: print ``what`` as one JSON object (every command has the flag)."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON object")


def write_json(value: object) -> None:
    """Print ``value`` as indented JSON on standard output."""
    write_output(json.dumps(value, indent=2, sort_keys=True) + "\n")


def payload_members(payload: bytes, name: str = "payload") -> dict[str, str]:
    """``{name: text}`` for a UTF-8 payload, else ``{name + "_b64url": ...}`` (for --json)."""
    try:
        return {name: payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_b64url": base64.urlsafe_b64encode(payload).rstrip(b"=").decode()}


def add_time_option(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """Add ``--time``: check as of this instant (the one time flag of every command)."""
    parser.add_argument(
        "--time",
        *aliases,
        dest="time",
        metavar="TIME",
        help="check as of TIME: ISO 8601 with a UTC offset (2025-01-01T00:00:00Z) or UNIX "
        "seconds (default: now)",
    )


def parse_time(text: str | None) -> dt.datetime | None:
    """Parse a ``--time`` value (see :func:`add_time_option`); ``None`` stays ``None``.

    Raises:
        UsageError: If ``text`` is neither a zoned ISO 8601 date-time nor UNIX seconds.
    """
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        try:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise UsageError(f"--time {text[:40]!r} is out of range") from None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--time {text[:40]!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise UsageError("--time needs a UTC offset, for example 2025-01-01T00:00:00Z")
    return value


def read_secret(
    args: argparse.Namespace, name: str, *, required: bool = True, raw: bool = False
) -> bytes | None:
    """Return the secret given by ``--NAME-file`` or ``--NAME-env``.

    Args:
        args: The parsed arguments.
        name: The option stem (``"pepper"`` for ``--pepper-file``/``--pepper-env``).
        required: Whether a missing option is a usage error (else ``None`` is returned).
        raw: Return the file's bytes or the variable's UTF-8 bytes exactly as they are, for
            values with a decoder of their own (peppers: :func:`authcore.apikeys.decode_pepper`);
            by default a file's trailing newlines are stripped.

    Raises:
        UsageError: If neither option was given (when required), or the source is unreadable
            or empty.
    """
    attr = name.replace("-", "_")
    path: str | None = getattr(args, f"{attr}_file", None)
    env: str | None = getattr(args, f"{attr}_env", None)
    if path is not None:
        data = read_input(path)
        if not raw:
            data = data.rstrip(b"\r\n")
    elif env is not None:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} is not set")
        data = value.encode("utf-8")
    elif required:
        raise UsageError(f"give the {name} with --{name}-file PATH or --{name}-env VAR")
    else:
        return None
    if not data:
        raise UsageError(f"the {name} is empty")
    return data


def read_input(path: str) -> bytes:
    """Read a file's bytes, or standard input for ``-``.

    Raises:
        UsageError: If the file cannot be read.
    """
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def write_output(data: str | bytes, path: str | None = None, *, private: bool = False) -> None:
    """Write to a file, or standard output when ``path`` is ``None`` or ``-``.

    With ``private`` (private keys, secrets, decrypted plaintext) the file is created with
    mode 0600 whatever the umask, and never over an existing file or symbolic link: replacing
    a key file would lose the old key, and writing into a file that already exists would keep
    its (possibly wider) permissions.

    Raises:
        UsageError: If the file cannot be written, or exists already when ``private``.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path is None or path == "-":
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return
    if not private:
        try:
            Path(path).write_bytes(raw)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        return
    _write_private(raw, path)


# O_EXCL with O_CREAT refuses any existing path, a symbolic link included (POSIX), so the mode
# below is the mode of a file this process created; the umask can only narrow it.
_PRIVATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_PRIVATE_MODE = 0o600


def _write_private(raw: bytes, path: str) -> None:
    try:
        fd = os.open(path, _PRIVATE_FLAGS, _PRIVATE_MODE)
    except FileExistsError:
        raise UsageError(
            f"{path} exists: refusing to overwrite it with a private key or secret "
            "(remove it first or choose another path)"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
    except OSError as exc:
        Path(path).unlink(missing_ok=True)  # ours: O_EXCL created it
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
