"""Why time ratios sit below instruction ratios on EC paths: Python between verifies.

``python benchmarks/cache_pressure.py`` times, interleaved in one run, a bare P-256 ECDSA
verify (``cryptography``), a pure-Python step that reads scattered objects (about as much
memory traffic as a request check's bookkeeping), and the two back to back.  When the pair
costs more than its parts, the difference is what the verify loses when something else ran
in between (its tables and code fall out of the CPU caches).  A floor timed in a tight loop
never pays it; a verifier with any Python between its verifies does, and so does every real
server.  The performance page cites one run.  No test asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from collections.abc import Callable

_OBJECTS = 200_000
_STRIDE = 250


def _cases() -> dict[str, Callable[[], object]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    message = b"x" * 300
    algorithm = ec.ECDSA(hashes.SHA256())
    signature = key.sign(message, algorithm)
    objects = list(range(_OBJECTS))

    def verify() -> object:
        public.verify(signature, message, algorithm)
        return None

    def python() -> object:
        total = 0
        for i in range(0, _OBJECTS, _STRIDE):
            total += objects[i]
        return total

    def both() -> object:
        verify()
        return python()

    return {"verify": verify, "python": python, "both": both}


def measure(rounds: int = 9, number: int = 300) -> dict[str, float]:
    """Median microseconds per call of each case, and ``excess`` = both - verify - python."""
    cases = _cases()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            best = min(timeit.repeat(fn, number=number, repeat=3))
            samples[name].append(best / number * 1e6)
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["excess"] = result["both"] - result["verify"] - result["python"]
    return result


def main(argv: list[str] | None = None) -> None:
    """Print one measurement (``--json`` for a machine-readable line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.rounds, args.number)
    if args.json:
        print(json.dumps({name: round(value, 2) for name, value in result.items()}))  # noqa: T201 - a command-line tool
        return
    for name, value in result.items():
        print(f"{name:>7}: {value:8.2f} us")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main()
