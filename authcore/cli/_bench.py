"""``authcore bench``: run the benchmark suites end to end and print throughput."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from authcore.cli._common import write_output

if TYPE_CHECKING:
    import argparse

    from authcore._bench import GroupResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench",
        help="exercise every primitive end to end and print verification throughput",
        description=(
            "Build, check and time every primitive against its pure-Python floor and the "
            "installed peer libraries (pip install 'authcore-py[bench]'), interleaved in one run."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="short timings (a smoke run)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout)"
    )
    parser.add_argument(
        "--suite", action="append", metavar="NAME", help="run only this suite (repeatable)"
    )
    parser.add_argument("--rounds", type=int, help="rounds per group (default 5, quick 2)")
    parser.add_argument(
        "--min-time", type=float, help="seconds per callable per round (default 0.4, quick 0.03)"
    )
    parser.set_defaults(handler=run)


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[K{text}")
    else:
        sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Run the selected suites and print a Markdown report."""
    from authcore._bench import load_suites, render_markdown, run_group  # noqa: PLC0415

    rounds = args.rounds or (2 if args.quick else 5)
    min_time = args.min_time or (0.03 if args.quick else 0.4)
    results: list[GroupResult] = []
    failures: list[str] = []
    checked = 0
    for suite in load_suites(args.suite):
        _progress(f"{suite.NAME}: building and checking")
        try:
            # Building a group runs every case once and checks what it returns.
            groups = suite.groups(args.quick)
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, not a traceback
            failures.append(f"{suite.NAME}: {type(exc).__name__}: {exc}")
            continue
        checked += sum(len(g.cases) for g in groups)
        results.extend(
            run_group(group, min_time=min_time, rounds=rounds, progress=_progress)
            for group in groups
        )
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
    report = render_markdown(results)
    if args.json == "-":
        write_output(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    else:
        write_output(report + "\n")
        if args.json:
            write_output(json.dumps([r.to_dict() for r in results], indent=2) + "\n", args.json)
    if failures:
        sys.stderr.write(
            f"built-in checks FAILED in {len(failures)} suite(s): " + "; ".join(failures) + "\n"
        )
        return 1
    sys.stderr.write(f"all {checked} built-in checks passed\n")
    return 0
