"""Time hostile JSON-serialization inputs up to the size caps against a benign 1 MiB body.

Run ``python -m benchmarks.hostile_inputs [--rounds N]`` from the repository root.  Each input
goes through the public entry point (``jws.verify_json`` at its 16 KiB cap, ``jwe.decrypt_json``
at its 1 MiB cap), must be refused with a typed authcore error, and is timed ``--rounds`` times
interleaved with the benign body; the table shows medians in milliseconds and the ratio to the
benign body.  The goal (issue 12) is under 50 ms each on the project machine.  Nothing here is
asserted: on a busy machine the numbers are only comparable within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import TYPE_CHECKING

from authcore.errors import AuthcoreError
from authcore.jose import JWK, jwe, jws

if TYPE_CHECKING:
    from collections.abc import Callable

MIB = 1 << 20
KIB16 = 16 * 1024


def _cases() -> dict[str, Callable[[], object]]:
    hs = JWK.from_secret(bytes(32), alg="HS256", kid="k")
    kw = JWK.generate("A128KW", kid="r")
    sealed = jwe.encrypt_json(b"x" * (MIB // 2), kw, enc="A256GCM")
    benign = jwe.encrypt_json(b"x", kw, enc="A256GCM")
    benign_text = (
        '{{"protected":"{}","recipients":[{{"header":{{"alg":"A128KW","kid":"r"}},'
        '"encrypted_key":"{}"}}],"iv":"{}","ciphertext":"{}","tag":"{}"}}'.format(
            benign["protected"],
            benign["recipients"][0]["encrypted_key"],
            benign["iv"],
            "A" * (MIB - 400),
            benign["tag"],
        )
    )
    signed = jws.sign_json(b"x", hs)
    recipient = '{"header":{"alg":"%s","kid":"r"},"encrypted_key":"AAAA"},'

    def jws_text(body: str) -> Callable[[], object]:
        return lambda: jws.verify_json(body[:KIB16], hs, algorithms=["HS256"])

    def jwe_text(body: str) -> Callable[[], object]:
        return lambda: jwe.decrypt_json(
            body[:MIB], kw, algorithms=["A128KW"], encryptions=["A256GCM"]
        )

    sig = '{{"protected":"{}","signature":"{}"}},'.format(
        signed["signatures"][0]["protected"],
        signed["signatures"][0]["signature"],
    )
    cases: dict[str, Callable[[], object]] = {
        "benign JWE JSON, 1 MiB ciphertext (wrong tag)": jwe_text(benign_text),
        "JWS JSON: 16 KiB of signatures": jws_text(
            '{"payload":"eA","signatures":[' + sig * (KIB16 // len(sig)) + sig[:-1] + "]}"
        ),
        "JWS JSON: 16 KiB [[[[": jws_text("[" * KIB16),
        'JWS JSON: unterminated \\"[ string': jws_text('{"payload":"' + '\\"[' * KIB16),
        "JWE JSON: 1 MiB [[[[": jwe_text("[" * MIB),
        'JWE JSON: 1 MiB {"a":{"a":': jwe_text('{"a":' * (MIB // 5)),
        "JWE JSON: 1 MiB depth-32 lists": jwe_text("[" + ("[" * 31 + "]" * 31 + ",") * (MIB // 64)),
        'JWE JSON: unterminated \\"[ string': jwe_text('{"iv":"' + '\\"[' * (MIB // 3)),
        "JWE JSON: quotes around brackets": jwe_text('{"a":[' + '"[",' * (MIB // 4)),
        "JWE JSON: 1 MiB of escapes behind 9 brackets": jwe_text(
            "[" * 9 + '"' + '\\"' * (MIB // 2)
        ),
    }
    for alg in ("RSA-OAEP-256", "ECDH-ES+A256KW", "PBES2-HS256+A128KW", "A128KW", "dir"):
        many = recipient % alg
        body = '{"recipients":[' + many * (MIB // len(many) - 1) + many[:-1] + "],"
        rest = '"iv":"{}","ciphertext":"{}","tag":"{}"}}'.format(
            sealed["iv"],
            sealed["ciphertext"][:1000],
            sealed["tag"],
        )
        cases[f"JWE JSON: 1 MiB of {alg} recipients"] = jwe_text(body[: MIB - len(rest)] + rest)
    return cases


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    try:
        fn()
    except AuthcoreError:
        pass
    else:  # pragma: no cover - every case must be refused
        raise AssertionError("a hostile input was accepted")
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> None:
    """Print median refusal times (ms) and their ratio to the benign body."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    cases = _cases()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            times[name].append(_time(fn))
    benign = statistics.median(times[next(iter(cases))])
    print("| input | median ms | x benign |\n|---|---:|---:|")  # noqa: T201
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {median / benign:.2f} |")  # noqa: T201


if __name__ == "__main__":
    main()
