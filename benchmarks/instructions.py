r"""Instructions per call of ``authcore bench`` cases, counted by callgrind (deterministic).

Wall-clock ratios drift with machine load; instruction counts do not.  This script runs the
very callables ``authcore bench`` times (``authcore/_bench``), under::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=ffi_call \
        --dump-after=ffi_call --callgrind-out-file=OUT \
        python benchmarks/instructions.py --run SUITE [SUITE ...]

Each case is warmed up, then called ``--calls`` times inside one :mod:`ctypes` callback: the
callback is the only ``ffi_call`` of the run, so collection covers exactly those calls and
one profile is dumped per case.  A no-op case measured the same way is subtracted (the loop and
call overhead), and ``--report`` prints instructions per call and the ratio floor / case,
which is what ``authcore bench`` calls "x floor" (higher is better, 1.0 is the floor).

Use ``python benchmarks/instructions.py SUITE ...`` to do both steps.  The counted child
imports ``authcore`` from the checkout this script is in (its root goes first on
``PYTHONPATH``), not from wherever the environment's editable install points: run from a
second worktree, it measures that worktree.  Not collected by pytest; counts include
CPython's interpreter work, so they compare implementations on one Python build, not across
builds.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_WARMUP = 200
_CALLBACK = ctypes.CFUNCTYPE(None)
_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _counted(fn: Callable[[], object], calls: int) -> None:
    def loop() -> None:
        for _ in range(calls):
            fn()

    _CALLBACK(loop)()  # the one ffi_call: callgrind collects inside it, then dumps


def _load(path: str) -> Any:
    """A suite module given as a file (for trying variants without adding a suite)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _noop() -> object:
    return None


def run(suites: list[str], calls: int, order_file: Path) -> None:
    """Build the suites' groups and count every case (inside callgrind)."""
    from authcore._bench import load_suites  # noqa: PLC0415 - imported before counting

    modules = [_load(name) if name.endswith(".py") else None for name in suites]
    named = [name for name in suites if not name.endswith(".py")]
    order: list[dict[str, object]] = []
    for _ in range(_WARMUP):
        _noop()
    _counted(_noop, calls)
    order.append({"suite": "", "group": "", "case": "noop", "floor": ""})
    for module in [m for m in modules if m is not None] + list(load_suites(named) if named else []):
        for group in module.groups(True):
            for name, fn in group.cases.items():
                for _ in range(_WARMUP):
                    fn()
                _counted(fn, calls)
                order.append(
                    {"suite": module.NAME, "group": group.name, "case": name, "floor": group.floor}
                )
    order_file.write_text(json.dumps({"calls": calls, "cases": order}))


def report(directory: Path, order_file: Path) -> list[dict[str, object]]:
    """Per-call instructions and ratios to each group's floor, from the dumps."""
    meta = json.loads(order_file.read_text())
    calls: int = meta["calls"]
    dumps = sorted(
        (p for p in directory.iterdir() if p.name.startswith("cg.") and p.name[-1].isdigit()),
        key=lambda p: int(p.name.rsplit(".", 1)[1]),
    )
    totals = []
    for path in dumps:
        match = _TOTALS.search(path.read_text())
        totals.append(int(match.group(1)) if match else 0)
    if len(totals) != len(meta["cases"]):
        raise SystemExit(f"{len(totals)} dumps for {len(meta['cases'])} cases")
    base = totals[0] / calls
    rows: list[dict[str, object]] = []
    floors: dict[str, float] = {}
    for case, total in zip(meta["cases"][1:], totals[1:], strict=True):
        per_call = total / calls - base
        if case["case"] == case["floor"]:
            floors[case["group"]] = per_call
        rows.append({**case, "instructions": round(per_call)})
    for row in rows:
        floor = floors[str(row["group"])]
        row["ratio"] = round(floor / float(row["instructions"]), 3)  # type: ignore[arg-type]
    return rows


def child_env(environ: dict[str, str]) -> dict[str, str]:
    """The counted child's environment: this checkout first on the path, fixed hash seed."""
    root = str(Path(__file__).resolve().parent.parent)
    path = environ.get("PYTHONPATH")
    return {
        **environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": root if not path else os.pathsep.join((root, path)),
    }


def main() -> None:
    """Run the suites under callgrind and print the table (or, with --run, be the child)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("suites", nargs="+", help="suite names or suite files (.py)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--run", action="store_true", help="internal: the counted child")
    parser.add_argument("--order", type=Path, help="internal: where the child writes cases")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    if args.run:
        run(args.suites, args.calls, args.order)
        return
    with tempfile.TemporaryDirectory(prefix="authcore-cg-") as tmp:
        directory = Path(tmp)
        order = directory / "order.json"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=ffi_call",
            "--dump-after=ffi_call",
            f"--callgrind-out-file={directory}/cg",
            sys.executable,
            __file__,
            "--run",
            f"--calls={args.calls}",
            f"--order={order}",
            *args.suites,
        ]
        env = child_env(dict(os.environ))
        done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)  # noqa: S603
        if done.returncode:
            raise SystemExit(done.stderr[-4000:])
        rows = report(directory, order)
    if args.json:
        print(json.dumps(rows, indent=1))  # noqa: T201 - a command-line tool
        return
    for row in rows:
        print(  # noqa: T201 - a command-line tool
            f"{str(row['group'])[:58]:58} {str(row['case'])[:48]:48} "
            f"{row['instructions']:>9,} {row['ratio']:6.3f}"
        )


if __name__ == "__main__":
    main()
