"""Raw access to an authcore SQLite file, for tests of every store built on ``_sqlite_base``."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["integrity", "set_schema_version"]


def set_schema_version(path: Path, component: str, version: int) -> None:
    """Store ``version`` for ``component`` behind authcore's back (as a newer release would)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "UPDATE authcore_schema SET version = ? WHERE component = ?", (version, component)
            )
    finally:
        conn.close()


def integrity(path: Path) -> str:
    """Return SQLite's ``PRAGMA integrity_check`` verdict (``"ok"`` for a sound file)."""
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
