"""Throughput measurement behind ``authcore bench`` and ``benchmarks/``.

Method (the one of ``shared/tools/peer_bench.py``, re-implemented here): every callable of a
group is timed in short interleaved slices, round after round, so a slow spell on a shared
machine hits every implementation, and the group's *floor*, alike.  Each round yields ops/s per
callable and the ratio to the floor measured in that same round; reports show medians over
rounds.  Timings are never asserted anywhere: ratios are reported and tracked.

A *suite* is a module in this package with ``NAME`` and ``groups(quick: bool) -> list[Group]``;
every module here is a suite, so a new one is one new file.
Building a group also checks each callable once (it must return what the floor returns, or pass
the suite's own check), so ``authcore bench`` doubles as an end-to-end smoke run.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Group", "GroupResult", "Measurement", "load_suites", "run_group", "suite_names"]


def suite_names() -> list[str]:
    """Return the names of the suite modules in this package, sorted."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__))


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Callables compared with each other and with a floor in one interleaved run.

    Attributes:
        name: What is measured, for example ``"JWT verify HS256"``.
        floor: The key in ``cases`` of the reference implementation (ratios are to it).
        cases: Implementation name to a no-argument callable doing one operation.
        note: What the floor is, in a few words.
        reference: The floor is a reference implementation (a peer, or one thread), not the
            least work possible: ratios above 1 are results, not noise.
        batch: Operations each call of a case performs (ops/s counts operations).
    """

    name: str
    floor: str
    cases: dict[str, Callable[[], object]]
    note: str = ""
    reference: bool = False
    batch: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """The result for one callable of a group."""

    name: str
    ops: tuple[float, ...]
    ratios: tuple[float, ...]

    @property
    def median_ops(self) -> float:
        """Median operations per second over the rounds."""
        return statistics.median(self.ops)

    @property
    def median_ratio(self) -> float:
        """Median over rounds of the ratio to the floor measured in the same round."""
        return statistics.median(self.ratios)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupResult:
    """All measurements of one group."""

    group: str
    floor: str
    note: str
    results: tuple[Measurement, ...] = field(default=())
    reference: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary."""
        return {
            "group": self.group,
            "floor": self.floor,
            "note": self.note,
            "reference": self.reference,
            "results": [
                {
                    "name": m.name,
                    "ops_per_sec": round(m.median_ops, 1),
                    "ratio_to_floor": round(m.median_ratio, 3),
                    "rounds": len(m.ops),
                }
                for m in self.results
            ],
        }


class Suite(Protocol):
    """A benchmark suite module."""

    NAME: str

    def groups(self, quick: bool) -> list[Group]:  # noqa: FBT001 - module-level protocol
        """Build (and smoke-check) the suite's groups."""
        ...


def load_suites(names: Sequence[str] | None = None) -> list[Suite]:
    """Import the suite modules named (default: all of them)."""
    available = suite_names()
    chosen = available if not names else list(names)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        from authcore.errors import UsageError  # noqa: PLC0415 - only on the error path

        raise UsageError(f"unknown suite {unknown[0]!r}; choose from {', '.join(available)}")
    return [cast("Suite", importlib.import_module(f"authcore._bench.{n}")) for n in chosen]


def _calibrate(fn: Callable[[], object], target: float) -> int:
    """Return how many calls take about ``target`` seconds (at least 1)."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 4 or n >= 1 << 20:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


def run_group(
    group: Group,
    *,
    min_time: float = 0.5,
    rounds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> GroupResult:
    """Time every callable of ``group`` in interleaved slices.

    Args:
        group: The group to measure.
        min_time: Seconds of timing per callable per round.
        rounds: Number of rounds.
        progress: Called with a short status text after each round.

    Returns:
        Median ops/s and median ratio to the floor, per callable.
    """
    names = list(group.cases)
    slice_time = max(min_time / 20, 0.002)
    chunks = {n: _calibrate(group.cases[n], slice_time) for n in names}
    ops: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    for round_no in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        calls = dict.fromkeys(names, 0)
        gc.collect()
        while min(spent.values()) < min_time:
            for name in names:
                if spent[name] >= min_time:
                    continue
                fn, n = group.cases[name], chunks[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                spent[name] += time.perf_counter() - start
                calls[name] += n
        round_ops = {n: calls[n] * group.batch / spent[n] for n in names}
        for name in names:
            ops[name].append(round_ops[name])
            ratios[name].append(round_ops[name] / round_ops[group.floor])
        if progress is not None:
            progress(f"{group.name}: round {round_no + 1}/{rounds}")
    return GroupResult(
        group=group.name,
        floor=group.floor,
        note=group.note,
        reference=group.reference,
        results=tuple(
            Measurement(name=n, ops=tuple(ops[n]), ratios=tuple(ratios[n])) for n in names
        ),
    )


def render_markdown(results: Sequence[GroupResult]) -> str:
    """Render results as Markdown tables, one per group."""
    lines: list[str] = []
    for res in results:
        lines.append(f"### {res.group}")
        if res.note:
            lines.append(f"floor: {res.note}")
        lines.extend(("", "| implementation | ops/s | x floor |", "|---|---:|---:|"))
        for m in sorted(res.results, key=lambda m: -m.median_ops):
            marker = " (floor)" if m.name == res.floor else ""
            lines.append(f"| {m.name}{marker} | {m.median_ops:,.0f} | {m.median_ratio:.2f} |")
        lines.extend(_explanations(res))
        lines.append("")
    return "\n".join(lines)


ABOVE_FLOOR: Final = (
    "note: a ratio above 1 against a floor is not a win: the floor does the same work in the "
    "fastest plain Python, so it is noise from a busy machine (rerun with more --rounds) or a "
    "floor that does more than authcore (then the floor is wrong; see docs/performance.rst)."
)
THREAD_SLOWDOWN: Final = (
    "note: two threads slower than one: cryptography releases the GIL inside each signature "
    "check, and when the Python share of a verify is large the returning thread waits for the "
    "GIL, so the hand-offs cost more than the overlap gains (docs/performance.rst, Threads); "
    "on a busy 2-core machine the second core may also simply be taken."
)


def _explanations(res: GroupResult) -> list[str]:
    """Notes printed under a table whose figures would otherwise mislead."""
    others = [m for m in res.results if m.name != res.floor]
    notes: list[str] = []
    if not res.reference and any(m.median_ratio > 1.0 for m in others):
        notes.extend(("", ABOVE_FLOOR))
    one = {m.name.removesuffix(", 1 thread"): m for m in res.results if m.name.endswith("1 thread")}
    slower = [
        m.name
        for m in res.results
        if m.name.endswith("2 threads")
        and (base := one.get(m.name.removesuffix(", 2 threads"))) is not None
        and m.median_ops < base.median_ops
    ]
    if slower:
        notes.extend(("", THREAD_SLOWDOWN + " Slower with two: " + "; ".join(slower) + "."))
    return notes
