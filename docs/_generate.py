# ruff: noqa: INP001 - a helper beside the generator scripts, not a package
"""What every ``docs/gen_*.py`` script shares: write its include file, or check it is current."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def write_or_check(output: Path, text: str, argv: list[str], script: str) -> int:
    """Write ``text`` to ``output``; with ``--check`` in ``argv``, return 1 if it differs.

    ``script`` names the generator in the stale message (``python docs/<script>``).
    """
    if "--check" in argv:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            sys.stderr.write(f"{output} is stale: run python docs/{script}\n")
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    return 0
