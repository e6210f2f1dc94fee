"""Helpers for the tests that run real processes (servers, workers, Redis) beside the test, and for
bench/faults.py, which runs the same processes under load: a Redis of one's own that can be killed and
started again, a TCP proxy that can cut a process off from PostgreSQL, Celery and uvicorn processes."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nothing listens on now: for a server of the test's own, or a refused connection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    """Poll `condition` until it returns something true (returned), failing the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return result


class PrivateRedis:
    """A redis-server of one's own, daemonized, on one port for its whole life, keeping nothing on disk:
    started again after a kill it is empty, as a Redis that lost its data."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.pidfile = directory / "redis.pid"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.pidfile),
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            check=True, timeout=10,
        )  # fmt: skip
        wait_for(self.answers, 10, "the private Redis to answer")

    def kill(self) -> None:
        if self.pidfile.exists():
            os.kill(int(self.pidfile.read_text()), signal.SIGKILL)
            wait_for(lambda: not self.answers(), 10, "the private Redis to stop")
            self.pidfile.unlink(missing_ok=True)


class TcpProxy:
    """A loopback port forwarding to `host:port` until `cut()`: every connection through it is closed and
    new ones are refused, as when the server went away (the server itself, shared, keeps running);
    `restore()` accepts again on the same port."""

    def __init__(self, host: str, port: int):
        self.target, self.port = (host, port), free_port()
        self.lock, self.sockets, self.listener = threading.Lock(), set(), None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.listener = listener
        threading.Thread(target=self.accept, args=(listener,), daemon=True).start()

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            self.close(end)

    def close(self, end: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(end)
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it; close alone would not
        end.close()

    def cut(self) -> None:
        self.close(self.listener)
        with self.lock:
            open_sockets = list(self.sockets)
        for end in open_sockets:
            self.close(end)


def database_url(settings_dict: dict, *, host: str | None = None, port: int | None = None) -> str:
    """The URL of a Django database's settings (the test database, say), optionally through a proxy."""
    user, password = quote(settings_dict["USER"] or ""), quote(settings_dict["PASSWORD"] or "")
    host = host or settings_dict["HOST"] or "127.0.0.1"
    port = port or settings_dict["PORT"] or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{settings_dict['NAME']}"


class Process:
    """A process of one's own in a process group of its own (a kill reaches its children too: a Celery
    worker's pool, uvicorn's workers), its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.process: subprocess.Popen | None = None
        self.log.write_text("")

    def start(self) -> "Process":
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The pids of its direct children (a prefork worker's pool processes)."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            found += [int(pid) for pid in (task / "children").read_text().split()]
        return found

    def kill(self) -> None:
        """SIGKILL to the whole group: nothing gets to clean up, as when the machine dies."""
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """TERM to the process (Celery's warm shutdown: it stops its pool itself), then whatever is left."""
        if self.process is None:
            return
        if self.running():
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def celery(name: str, arguments: list[str], env: dict, log: Path) -> Process:
    """`celery -A clinic <arguments>`, as supervisord.conf starts it."""
    return Process(name, [str(BIN / "celery"), "-A", "clinic", *arguments], env, log)


def celery_worker(name: str, queues: str, env: dict, log: Path, concurrency: int = 1, *extra: str) -> Process:
    return celery(
        name,
        ["worker", "-Q", queues, "-n", f"{name}-{os.getpid()}@%h", "--concurrency", str(concurrency),
         "--without-gossip", "--without-mingle", "--loglevel", "INFO", *extra],
        env,
        log,
    )  # fmt: skip


def worker_ready(worker: Process) -> bool:
    if not worker.running():
        raise AssertionError(f"{worker.name} exited:\n{worker.text()[-3000:]}")
    return " ready." in worker.text()


def uvicorn(name: str, port: int, env: dict, log: Path, workers: int = 1) -> Process:
    """The web process as supervisord.conf's `web` program starts it."""
    return Process(
        name,
        [str(BIN / "uvicorn"), "clinic.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--lifespan", "off", "--no-access-log"],
        env,
        log,
    )  # fmt: skip


class PrivatePostgres:
    """A PostgreSQL server of one's own: a cluster made by initdb in `directory` (the newest of
    /usr/lib/postgresql/*/bin), on a free loopback port, trusting local connections. PostgreSQL refuses
    to run as root: as root, the cluster belongs to the `postgres` user and runs as it. `kill()` is a
    crash (SIGKILL to the server and its backends); `start()` after it runs crash recovery."""

    def __init__(self, directory: Path):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            raise FileNotFoundError("no /usr/lib/postgresql/*/bin/initdb")
        self.bin, self.directory, self.port = found[-1].parent, directory, free_port()
        self.data = directory / "pgdata"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        directory.mkdir(parents=True, exist_ok=True)
        if self.as_user:  # (every folder above it must be open to that user)
            shutil.chown(directory, "postgres", "postgres")
        subprocess.run(
            [*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--no-sync"],
            check=True, timeout=120, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        # fsync off: the runs measure recovery from a crash of the processes, not of the disk.
        self.process = Process(
            "postgres",
            [*self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(directory), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "max_connections=200"],
            dict(os.environ),
            directory / "postgres.log",
        )  # fmt: skip

    def answers(self) -> bool:
        command = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(command, check=False, timeout=10).returncode == 0

    def start(self) -> None:
        self.process.start()
        wait_for(self.answers, 120, "the private PostgreSQL to accept connections")

    def kill(self) -> None:
        self.process.kill()
