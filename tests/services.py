"""Servers of our own for tests and benches: PostgreSQL and Redis in temp folders on free ports
(gone on exit), and gunicorn with deploy/gunicorn.conf.py.

Debian's `postgresql` (initdb run as the postgres user when we are root) and `redis-server`, the
same packages .ci/run installs. A bench given RELAYDASH_BENCH_DATABASE_URL / _REDIS_URL uses those.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh(method: str, url: str, **options):
    """One request on a new connection (`Connection: close`), so it may reach any worker."""
    import requests  # only the callers that send requests need it

    headers = {"Connection": "close", **options.pop("headers", {})}
    return requests.request(method, url, timeout=20, headers=headers, **options)


def _wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{part}'" for part in command)]


class Postgres:
    """A PostgreSQL server of our own in a temp folder, on a free port (user postgres, trust)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL missing: apt-get install -y postgresql")
        self.bin = Path(found[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="relaydash-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self.data, self.port = self.folder / "data", free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def start(self) -> None:
        options = (
            f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1"
            " -c max_connections=300 -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off"
        )
        self._ctl("-l", str(self.folder / "log"), "-o", options, "start")
        _wait_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: every connection is cut, as in a crash or a restart)."""
        self._ctl("-m", mode, "stop")

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres():
    """A running PostgreSQL server of our own: yields its postgresql+psycopg URL; a bench given
    RELAYDASH_BENCH_DATABASE_URL uses that instead."""
    given = os.environ.get("RELAYDASH_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    server = Postgres()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


def gunicorn(env: dict[str, str], *, workers: int, threads: int = 8, root: Path) -> tuple:
    """gunicorn with deploy/gunicorn.conf.py on a free port, `env` its environment (the app's
    RELAYDASH_* settings): (process, base URL) once /healthz answers."""
    port = free_port()
    env = {
        **env,
        "RELAYDASH_BIND": f"127.0.0.1:{port}",
        "RELAYDASH_WORKERS": str(workers),
        "RELAYDASH_THREADS": str(threads),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "deploy" / "gunicorn.conf.py")],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_port(port, 60)
    return process, url


@contextmanager
def redis():
    """A redis-server of our own (no persistence): yields its redis:// URL."""
    given = os.environ.get("RELAYDASH_BENCH_REDIS_URL")
    if given:
        yield given
        return
    server = shutil.which("redis-server")
    if not server:
        raise SystemExit("redis-server missing: apt-get install -y redis-server")
    folder, port = Path(tempfile.mkdtemp(prefix="relaydash-bench-redis-")), free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
