"""Long mutation-fuzz run over the trust boundaries the CI fuzz tests cover briefly.

Run from the repository root::

    python -m benchmarks.fuzz_long --seconds 600
    python -m benchmarks.fuzz_long --count 20000 --seed 7 --target http.
    python -m benchmarks.fuzz_long --list

It feeds the targets of ``tests/_fuzz.py`` (HTTP request, header, form, Authorization and
Basic parsing; XFCC, forwarded-PEM and ASGI certificate forms; PEM/DER/CRL loading; caller-built
certificate objects; SPIFFE IDs and subject DNs) round after round, each round with the next
seed, until the time or count budget is spent.  It prints how many inputs each target tried
and every escape (an exception or warning that is not the target's typed error), and exits 1
if there was any.  The seed of each round is printed, so an escape can be replayed.

Not a pytest module (its name does not start with ``test_``): the bounded, fixed-seed runs are
``tests/core/test_fuzz_http.py`` and ``tests/mtls/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in {None, ""}:  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests._fuzz import Escape, http_targets, mtls_targets, run

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests._fuzz import Target

_ROUND = 500
"""Inputs per target per round: small enough to stop close to the time budget."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fuzz_long", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=1, help="first round's seed (default 1)")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="time budget (default 60; 0: no limit)"
    )
    parser.add_argument(
        "--count", type=int, default=0, help="inputs per target in all (default 0: no limit)"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PREFIX",
        help="only targets whose name starts with PREFIX (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    return parser


def _chosen(prefixes: Sequence[str]) -> list[Target]:
    targets = [*http_targets(), *mtls_targets()]
    if prefixes:
        targets = [t for t in targets if any(t.name.startswith(p) for p in prefixes)]
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Fuzz until the budget is spent; print the counts and escapes; 1 if any escape."""
    args = _parser().parse_args(argv)
    targets = _chosen(args.target)
    if args.list or not targets:
        for target in targets:
            print(target.name)  # noqa: T201 - a command-line script
        return 0 if targets else 2
    if args.seconds <= 0 and args.count <= 0:
        print("set --seconds or --count (or both)", file=sys.stderr)  # noqa: T201
        return 2
    deadline = time.monotonic() + args.seconds if args.seconds > 0 else float("inf")
    tried = dict.fromkeys((t.name for t in targets), 0)
    escapes: list[tuple[int, Escape]] = []
    seed, done = args.seed, 0
    start = time.monotonic()
    while time.monotonic() < deadline and (args.count <= 0 or done < args.count):
        step = _ROUND if args.count <= 0 else min(_ROUND, args.count - done)
        for target in targets:
            count, found = run([target], seed=seed, count=step)
            tried[target.name] += count
            escapes.extend((seed, escape) for escape in found)
            if time.monotonic() >= deadline:
                break
        done += step
        seed += 1
    elapsed = time.monotonic() - start
    for name, count in tried.items():
        print(f"{name:40} {count:>10,} inputs")  # noqa: T201
    total = sum(tried.values())
    print(  # noqa: T201
        f"tried {total:,} inputs in {elapsed:.1f} s (seeds {args.seed}..{seed - 1}); "
        f"{len(escapes)} escape(s)"
    )
    for round_seed, escape in escapes:
        print(f"ESCAPE seed={round_seed} {escape}")  # noqa: T201
    return 1 if escapes else 0


if __name__ == "__main__":
    sys.exit(main())
