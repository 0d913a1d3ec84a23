"""A throwaway PostgreSQL server for the tests: a real one, on 127.0.0.1, never a mock.

:class:`PostgresServer` runs ``initdb`` into a fresh temporary directory and then the
``postgres`` postmaster itself as a child process (no ``pg_ctl`` daemonising: the child is the
postmaster, so :meth:`PostgresServer.kill` can crash it for real and its early death is seen at
once). It listens only on TCP 127.0.0.1 on a free port, unix sockets off, durability off for
speed (``fsync``, ``synchronous_commit``, ``full_page_writes``), and accepts only password
(scram-sha-256) logins of the superuser :data:`USER`.

``initdb`` and ``postgres`` refuse to run as root; when the tests run as root both run as the
unprivileged user ``nobody`` (``setpriv``, which execs in place, so the child stays the
postmaster), in a directory ``nobody`` owns. ``setpriv --pdeathsig`` asks the kernel to stop the
server (fast shutdown) when the process that started it dies, so a killed pytest worker leaves
no server running (its directory in the temp dir may stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from shared_data import in_ci

USER = "postino"
PASSWORD = "postino-test-pw"  # a throwaway server's test password
HOST = "127.0.0.1"
BINARIES = ("initdb", "postgres")
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 40
_POLL_SECONDS = 0.05
_PORT_ATTEMPTS = 3
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SETTINGS = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # One server per pytest-xdist worker: keep each one small.
    "shared_buffers": "32MB",
}

T = TypeVar("T")


def postgres_available() -> str | None:
    """None when a server can be started here, else the reason why not."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return (
            f"PostgreSQL binaries not on the PATH: {', '.join(missing)} "
            "(apt-get install postgresql, then add /usr/lib/postgresql/*/bin to PATH)"
        )
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            return "running as root and `setpriv` (util-linux) is missing: initdb refuses root"
        try:
            pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError:
            return f"running as root and there is no user {UNPRIVILEGED_USER!r} to run initdb as"
    return None


def require_postgres() -> None:
    """Skip the test when no server can be started here; in CI (``CI=true``) fail instead."""
    reason = postgres_available()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: PostgreSQL is required)", pytrace=False)
    pytest.skip(reason)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, in a helper thread when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _quote(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain lower-case database name: {name!r}")
    return f'"{name}"'


class PostgresServer:
    """One PostgreSQL server in its own temporary directory; :meth:`stop` removes it all."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        """``settings`` override the server's (``-c key=value``), e.g. for a crash test
        ``{"synchronous_commit": "on"}``: with the default ``off`` a :meth:`kill` loses the
        commits of the last few hundred milliseconds (``fsync=off`` alone would not: the
        kernel still has the data).
        """
        self.settings = {**_SETTINGS, **(settings or {})}
        self.directory: Path | None = None
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._drop_privileges: list[str] = []

    # -- life cycle ------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._directory / "data"

    @property
    def log_path(self) -> Path:
        return self._directory / "postgres.log"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> PostgresServer:
        """Initialise (first time only) and start the server; return once it takes logins.

        After :meth:`kill` it starts again on the same data directory and port (crash
        recovery included).
        """
        if self.alive:
            raise RuntimeError("the PostgreSQL server is already running")
        reason = postgres_available()
        if reason is not None:
            raise RuntimeError(reason)
        if self.directory is None:
            self._init()
        attempts = 1 if self.port is not None else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self.port is None or attempt > 1:
                self.port = _free_port()
            self._launch()
            try:
                self._wait_ready()
            except _BindError:
                if attempt == attempts:
                    raise
                continue
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Fast shutdown (SIGINT, as ``pg_ctl stop -m fast``), then remove the directory."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._kill_group()
        self._process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        self.port = None

    def kill(self) -> None:
        """Crash the server: SIGKILL to the postmaster and all its backends. Data stays."""
        if self._process is not None and self._process.poll() is None:
            self._kill_group()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- databases -------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        if self.port is None:
            raise RuntimeError("the PostgreSQL server was not started")
        return f"postgresql://{USER}:{PASSWORD}@{HOST}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name``; return its URL."""
        self.execute(f"CREATE DATABASE {_quote(name)}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)``: open connections are terminated."""
        self.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")

    def execute(self, sql: str, dbname: str = "postgres") -> str:
        """Run one statement on a fresh connection; return its status (``CREATE DATABASE``)."""

        async def run() -> str:
            connection = await asyncpg.connect(self.url(dbname), timeout=10)
            try:
                status: str = await connection.execute(sql)
                return status
            finally:
                await connection.close()

        return run_async(run())

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self.directory is None or not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- internals -------------------------------------------------------------------------

    @property
    def _directory(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the PostgreSQL server was not started")
        return self.directory

    def _init(self) -> None:
        # Not under pytest's tmp_path: its root-only (0700) parents would lock `nobody` out.
        self.directory = Path(tempfile.mkdtemp(prefix="postino-pg-"))
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            for path in (self.directory, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
            self._drop_privileges = [
                "setpriv",
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
            ]
        command = [
            *self._drop_privileges,
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={USER}",
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            command,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        password_file.unlink()
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            directory, self.directory = self.directory, None
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{output}")

    def _launch(self) -> None:
        settings = {**self.settings, "port": str(self.port)}
        options = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
        # The parent-death signal only survives setpriv's own credential change when setpriv
        # sets it; without setpriv (not root) the server simply outlives a killed pytest.
        pdeathsig = ["--pdeathsig=INT"] if self._drop_privileges else []
        command = [
            *self._drop_privileges,
            *pdeathsig,
            "postgres",
            "-D",
            str(self.data_dir),
            *options,
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self._directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: kill() reaches every backend, Ctrl-C does not.
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            code = process.poll()
            if code is not None:
                tail = self.log_tail()
                if "could not bind" in tail or "Address already in use" in tail:
                    raise _BindError(tail)
                raise RuntimeError(
                    f"the PostgreSQL server exited ({code}) while starting; log tail:\n{tail}"
                )
            if self._accepts_logins():
                return
            if time.monotonic() > deadline:
                self._kill_group()
                raise RuntimeError(
                    f"the PostgreSQL server took no logins within {START_TIMEOUT_SECONDS:.0f} s;"
                    f" log tail:\n{self.log_tail()}"
                )
            time.sleep(_POLL_SECONDS)

    def _accepts_logins(self) -> bool:
        async def attempt() -> bool:
            try:
                connection = await asyncpg.connect(self.url(), timeout=2)
            except (OSError, TimeoutError, asyncpg.CannotConnectNowError):
                return False
            await connection.close()
            return True

        return run_async(attempt())

    def _kill_group(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # The backends die with the group; give the kernel a moment to reap them all.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(_POLL_SECONDS)


class _BindError(RuntimeError):
    """The chosen port was taken between picking it and the server binding it."""
