"""benchmarks/instructions.py counts the checkout it lives in (no valgrind needed here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks import instructions

_ROOT = Path(instructions.__file__).resolve().parent.parent


def test_child_env_puts_this_checkout_first() -> None:
    """The root goes before any PYTHONPATH given; the hash seed is fixed."""
    env = instructions.child_env({"PYTHONPATH": "/elsewhere", "X": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(_ROOT), "/elsewhere"]
    assert env["PYTHONHASHSEED"] == "0"
    assert env["X"] == "1"
    assert instructions.child_env({})["PYTHONPATH"] == str(_ROOT)


def test_the_child_imports_authcore_from_this_checkout() -> None:
    """What the counted child imports is this checkout's package, whatever is installed."""
    done = subprocess.run(
        [sys.executable, "-c", "import authcore; print(authcore.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
        env=instructions.child_env(dict(os.environ)),
    )
    assert Path(done.stdout.strip()).resolve() == _ROOT / "authcore" / "__init__.py"
