"""Throwaway Redis, Redis Cluster and PostgreSQL servers on loopback, for the backend tests.

Each server runs from a fresh temporary directory on a free 127.0.0.1 port and is stopped (and
its directory removed) afterwards.  Binaries come from ``PATH`` (``redis-server``,
``redis-cli``) or, for PostgreSQL, from ``/usr/lib/postgresql/<version>/bin`` (the newest
version installed; Debian keeps them off ``PATH``).  ``.ci/services`` installs both.

When a binary or client library is missing, :func:`need` skips the test with one reason; with
``CI=true`` it fails instead, so CI cannot pass without having run the backend suites.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "PostgresServer",
    "RedisCluster",
    "RedisServer",
    "find_binary",
    "free_port",
    "need",
    "unavailable",
]

_START_TIMEOUT = 30.0


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when ``CI=true`` (CI must run every backend)."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason, allow_module_level=True)


def find_binary(name: str) -> str | None:
    """Return the path of a server binary, or ``None``: ``PATH`` first, then PostgreSQL's."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parts[-3]
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates = sorted(map(str, Path("/usr/lib/postgresql").glob(f"*/bin/{name}")), key=version)
    return candidates[-1] if candidates else None


def need(*names: str) -> list[str]:
    """Return the paths of ``names``, or skip (fail under CI) naming the first one missing."""
    paths = []
    for name in names:
        path = find_binary(name)
        if path is None:
            unavailable(f"{name} is not installed (.ci/services installs it)")
        paths.append(path)
    return paths


def free_port(*, bus: bool = False) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    With ``bus``, the port 10000 above it (a Redis Cluster node's bus port) is free too.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not bus:
            return port
        if port + 10000 <= 65535:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _wait_port(port: int, process: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} in {_START_TIMEOUT} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisServer:
    """One ``redis-server`` (no persistence) on a free loopback port; restartable."""

    def __init__(self, *, extra: Sequence[str] = ()) -> None:
        (self._binary,) = need("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="authcore-redis-")
        self._extra = tuple(extra)
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start (or restart) the server on the same port, with an empty dataset."""
        args = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", self._dir, "--loglevel", "warning"]
        self._process = subprocess.Popen(
            [*args, *self._extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_port(self.port, self._process, "redis-server")

    def stop(self) -> None:
        """Stop the server (its clients then see connection errors)."""
        if self._process is not None:
            _stop(self._process)
            self._process = None

    def pause(self) -> None:
        """Freeze the server without closing connections (SIGSTOP): a slow or hung server."""
        if self._process is not None:
            self._process.send_signal(19)  # SIGSTOP

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        if self._process is not None:
            self._process.send_signal(18)  # SIGCONT

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.resume()
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class RedisCluster:
    """Three ``redis-server --cluster-enabled yes`` masters on loopback, joined and ready."""

    def __init__(self, *, nodes: int = 3) -> None:
        server, cli = need("redis-server", "redis-cli")
        self._dir = tempfile.mkdtemp(prefix="authcore-cluster-")
        self.ports = [free_port(bus=True) for _ in range(nodes)]
        self._processes: list[subprocess.Popen[bytes]] = []
        try:
            for port in self.ports:
                args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
                args += ["--appendonly", "no", "--dir", self._dir, "--loglevel", "warning"]
                args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
                args += ["--cluster-node-timeout", "5000"]
                process = subprocess.Popen(
                    args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                self._processes.append(process)
                _wait_port(port, process, "redis-server (cluster)")
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{p}" for p in self.ports),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=_START_TIMEOUT,
            )
            self._wait_ready(cli)
        except BaseException:
            self.close()
            raise
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"

    def _wait_ready(self, cli: str) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [cli, "-p", str(port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=False,
                ).stdout
                for port in self.ports
            ]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not become ready")

    def close(self) -> None:
        """Stop every node and remove their directory."""
        for process in self._processes:
            _stop(process)
        shutil.rmtree(self._dir, ignore_errors=True)


class RedisSentinelSet:
    """A primary, one replica and one Sentinel (quorum 1) watching them as ``mymaster``."""

    name = "mymaster"

    def __init__(self) -> None:
        (server,) = need("redis-server")
        self.primary = RedisServer()
        self.replica: RedisServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="authcore-sentinel-")
        try:
            self.replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(self.primary.port)])
            self.port = free_port()
            config = Path(self._dir) / "sentinel.conf"  # Sentinel rewrites it: a file of its own
            config.write_text(
                f"port {self.port}\nbind 127.0.0.1\ndir {self._dir}\n"
                f"sentinel monitor {self.name} 127.0.0.1 {self.primary.port} 1\n"
                f"sentinel down-after-milliseconds {self.name} 1000\n"
                f"sentinel failover-timeout {self.name} 10000\n"
            )
            self._process = subprocess.Popen(
                [server, str(config), "--sentinel"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait_port(self.port, self._process, "redis-server --sentinel")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the Sentinel and both servers."""
        if self._process is not None:
            _stop(self._process)
        for node in (self.replica, self.primary):
            if node is not None:
                node.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class PostgresServer:
    """A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``) on a free loopback port.

    Runs as an unprivileged user when the tests run as root (PostgreSQL refuses root).
    """

    def __init__(self) -> None:
        self._initdb, self._pg_ctl = need("initdb", "pg_ctl")
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="authcore-pg-"))
        self._data = self._dir / "data"
        self._user: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                entry = pwd.getpwnam("nobody")
            self._user = (entry.pw_uid, entry.pw_gid)
            os.chown(self._dir, entry.pw_uid, entry.pw_gid)
        self.dsn = f"host=127.0.0.1 port={self.port} user=authcore dbname=postgres"
        try:
            self._run(
                [
                    self._initdb,
                    "-D",
                    str(self._data),
                    "-U",
                    "authcore",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
            self.start()
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def _run(self, args: list[str]) -> None:
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user[0], "group": self._user[1], "extra_groups": []}
        subprocess.run(
            args,
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self._dir,
            **kwargs,  # type: ignore[call-overload]
        )

    def start(self) -> None:
        """Start (or restart) the server on the same port; the data stays."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._dir} -c fsync=off"
        options += " -c max_connections=60"
        self._run(
            [
                self._pg_ctl,
                "-D",
                str(self._data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(self._dir / "log"),
                "start",
            ]
        )

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``: clients see their connections drop)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([self._pg_ctl, "-D", str(self._data), "-m", "immediate", "-w", "stop"])

    def start_if_stopped(self) -> None:
        """Start the server unless it is running (after a test that stopped it failed)."""
        try:
            self._run([self._pg_ctl, "-D", str(self._data), "status"])
        except subprocess.CalledProcessError:
            self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def running(server: RedisServer | RedisCluster | PostgresServer) -> Iterator[None]:
    """Close ``server`` when the block ends."""
    try:
        yield
    finally:
        server.close()
