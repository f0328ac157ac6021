"""Threads verifying while others rotate, revoke and flush, over every store."""

from __future__ import annotations

import random
import threading

from authcore.apikeys import KeyManager, KeyStatus
from authcore.errors import QuotaExhausted, Revoked


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


def test_verify_while_rotating_and_revoking(manager: KeyManager) -> None:
    """Verifiers see only valid records or Revoked for revoked keys while others change keys."""
    keys = [manager.create(owner=f"o{i % 3}", scopes=["read"]) for i in range(24)]
    to_revoke = {k.record.key_id for k in keys[::3]}
    to_rotate = [k for k in keys if k.record.key_id not in to_revoke][:8]
    tokens = {k.record.key_id: k.token for k in keys}
    new_tokens: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def verifier(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - reproducible choice of test keys
        while not stop.is_set():
            with lock:
                pool = list(tokens.items()) + list(new_tokens.items())
            key_id, token = rng.choice(pool)
            try:
                record = manager.verify(token, scopes=["read"])
            except Revoked:
                if key_id not in to_revoke:
                    errors.append(f"unexpected Revoked for {key_id}")
            except Exception as exc:  # noqa: BLE001 - any other failure is the bug we look for
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                if record.key_id != key_id:
                    errors.append("verify returned another key's record")

    def revoker() -> None:
        for key_id in sorted(to_revoke):
            manager.revoke(key_id)

    def rotator() -> None:
        for issued in to_rotate:
            new = manager.rotate(issued.record.key_id, grace=3600)
            with lock:
                new_tokens[new.record.key_id] = new.token

    def flusher() -> None:
        while not stop.is_set():
            manager.flush()

    workers = [threading.Thread(target=verifier, args=(i,)) for i in range(6)]
    changers = [threading.Thread(target=revoker), threading.Thread(target=rotator)]
    background = [*workers, threading.Thread(target=flusher)]
    for thread in background:
        thread.start()
    _run(changers)
    stop.set()
    for thread in background:
        thread.join(timeout=120)
    assert errors == []
    manager.flush()
    for key_id, token in tokens.items():
        if key_id in to_revoke:
            assert manager.get(key_id).status is KeyStatus.REVOKED
            try:
                manager.verify(token)
            except Revoked:
                pass
            else:
                raise AssertionError("revoked key verified")
        else:
            assert manager.verify(token).key_id == key_id  # rotated keys are in their grace
    for key_id, token in new_tokens.items():
        assert manager.verify(token).replaces is not None
        assert manager.get(key_id).replaces in tokens
    total_uses = sum(r.use_count for owner in ("o0", "o1", "o2") for r in manager.list(owner))
    assert total_uses > 0


def test_concurrent_rotations_of_one_key_make_one_successor(manager: KeyManager) -> None:
    """Of many threads rotating the same key at once, exactly one succeeds."""
    issued = manager.create(owner="o")
    outcomes: list[str] = []
    lock = threading.Lock()

    def rotate() -> None:
        try:
            manager.rotate(issued.record.key_id, grace=60)
        except Revoked:
            outcome = "refused"
        else:
            outcome = "rotated"
        with lock:
            outcomes.append(outcome)

    _run([threading.Thread(target=rotate) for _ in range(8)])
    assert sorted(outcomes) == ["refused"] * 7 + ["rotated"]
    assert len(manager.list("o")) == 2


def test_credits_are_exact_under_threads(manager: KeyManager) -> None:
    """Threads racing on one key's remaining uses take exactly the credits there were."""
    issued = manager.create(owner="o", remaining_uses=120)
    successes: list[int] = []
    lock = threading.Lock()

    def spend() -> None:
        mine = 0
        while True:
            try:
                manager.verify(issued.token)
            except QuotaExhausted:
                break
            mine += 1
        with lock:
            successes.append(mine)

    _run([threading.Thread(target=spend) for _ in range(6)])
    assert sum(successes) == 120
    manager.flush()
    record = manager.get(issued.record.key_id)
    assert (record.remaining_uses, record.use_count) == (0, 120)


def test_no_use_is_lost_or_doubled_while_flushing(manager: KeyManager) -> None:
    """Usage counted without locks adds up exactly while another thread keeps flushing."""
    keys = [manager.create(owner="o") for _ in range(4)]
    stop = threading.Event()
    done: list[int] = []
    lock = threading.Lock()

    def verifier(index: int) -> None:
        for _ in range(300):
            manager.verify(keys[index % 4].token)
        with lock:
            done.append(300)

    def flusher() -> None:
        while not stop.is_set():
            manager.flush()

    background = threading.Thread(target=flusher)
    background.start()
    _run([threading.Thread(target=verifier, args=(i,)) for i in range(6)])
    stop.set()
    background.join(timeout=120)
    manager.flush()
    assert manager.pending_usage == 0
    assert sum(r.use_count for r in manager.list("o")) == sum(done) == 1800
