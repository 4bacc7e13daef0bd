"""A throw-away PostgreSQL server on loopback, for tests and benchmarks.

Uses Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``):
``initdb`` into a temporary directory, ``pg_ctl start`` on a free port with
trust authentication, listening on 127.0.0.1 only; :meth:`PostgresServer.stop`
stops it and removes the directory. ``initdb`` refuses to run as root, so as
root the server runs as the ``postgres`` user (``runuser``) in a directory that
user owns.

Examples
--------
>>> with PostgresServer() as server:  # doctest: +SKIP
...     server.url
'postgresql+psycopg2://postgres@127.0.0.1:54321/postgres'
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin_dir():
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb and pg_ctl, or None."""
    def version(path):
        name = Path(path).parent.name
        return int(name) if name.isdigit() else 0

    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(Path(path) / "initdb", os.X_OK) and os.access(Path(path) / "pg_ctl", os.X_OK):
            return Path(path)
    return None


def _has_driver():
    """True when psycopg2 (the SQLAlchemy driver Optuna uses) imports."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False
    return True


def missing_reason():
    """Why a server cannot be started here (a skip reason), or None."""
    if find_bin_dir() is None:
        return "needs PostgreSQL server binaries (Debian package postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the 'postgres' user (Debian package postgresql)"
        if shutil.which("runuser") is None:
            return "running as root needs runuser (util-linux)"
    if not _has_driver():
        return "needs psycopg2 (pip install psycopg2-binary)"
    return None


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """Start a private PostgreSQL server; ``url`` is its SQLAlchemy URL.

    Parameters
    ----------
    port : int, optional
        Default: a free port.
    """

    def __init__(self, port=None):
        self.port = port or free_port()
        self.bin_dir = find_bin_dir()
        self.root = None

    @property
    def url(self):
        """``postgresql+psycopg2://postgres@127.0.0.1:<port>/postgres``."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args):
        """Run a server program (as the postgres user when we are root)."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self):
        """initdb + pg_ctl start (waits until the server accepts connections)."""
        self.root = Path(tempfile.mkdtemp(prefix="tuner-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=100 -c fsync=off")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")
        return self

    def stop(self):
        """Stop the server (fast shutdown) and remove its directory."""
        if self.root is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False
