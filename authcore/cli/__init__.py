"""The ``authcore`` command.

Each subcommand lives in a module ``authcore.cli._<name>`` exposing
``register(subparsers) -> None``, which adds its parser and sets ``handler`` (a function of the
parsed namespace returning the exit code).  The registry is the package itself: every such
module is found by :func:`subcommand_modules`, so a new subcommand is one new file.  Modules
import their heavy dependencies inside the handler so ``authcore --version`` stays instant.

Exit codes: 0 success; 1 the input was refused (a verification failure: the message says why);
2 a usage mistake (one line on stderr, never a traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from authcore import __version__
from authcore.errors import AuthcoreError, UsageError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["EXIT_CODES", "main", "subcommand_modules"]


_HELPER_MODULES = frozenset({"_common", "_devserver"})
"""Private modules that serve the subcommands without being one."""


def subcommand_modules() -> list[str]:
    """Return the names of the subcommand modules (``authcore.cli._<name>``), sorted."""
    here = importlib.import_module(__name__).__path__
    return sorted(
        info.name
        for info in pkgutil.iter_modules(here)
        if info.name.startswith("_")
        and not info.name.startswith("__")
        and info.name not in _HELPER_MODULES
    )


Handler = Callable[[argparse.Namespace], int]


#: The exit codes every command shares, shown at the end of every ``--help``.
EXIT_CODES = (
    "exit codes: 0 success; 1 the input was refused (verification failed, printed as "
    "'authcore: CODE: reason'); 2 a usage, configuration or input-format mistake (one line "
    "'authcore: error: ...'); 130 interrupted."
)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose mistakes are one line and exit 2 (via :class:`UsageError`).

    Every parser (nested subcommands use this class too) ends its ``--help`` with
    :data:`EXIT_CODES` unless it sets an epilog of its own.
    """

    def format_help(self) -> str:
        if self.epilog is None:
            self.epilog = EXIT_CODES
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``authcore`` argument parser from the subcommand registry."""
    parser = _Parser(
        prog="authcore",
        description="Authentication primitives: API keys, webhooks, JOSE/JWT, mTLS.",
    )
    parser.add_argument("--version", action="version", version=f"authcore {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in subcommand_modules():
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"authcore: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``authcore`` command and return its exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return 2
        return handler(args)
    except VerificationError as exc:
        return _fail(f"{exc.code}: {exc}", 1)
    except AuthcoreError as exc:
        # UsageError, ConfigurationError, FetchError...: the caller's input or environment.
        return _fail(f"error: {exc.detail or exc}", 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # pragma: no cover - `authcore ... | head`
        return 0
