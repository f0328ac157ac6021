"""fork() while another thread holds a lock: what the child's exit status says."""

from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def fork_while_held(lock: threading.Lock, child: Callable[[], bool]) -> int:
    """Fork while another thread holds ``lock``; the child's exit status.

    0 when ``child()`` answers true, 2 when false, 3 when it is still waiting after 10 s (a
    lock inherited held: its holder does not exist in the child).
    """
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            status = 1
            try:
                signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
                signal.alarm(10)
                status = 0 if child() else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    return os.WEXITSTATUS(status)
