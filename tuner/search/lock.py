"""One lock for all processes of a study, wherever they run.

An ``fcntl`` lock on ``<journal>.tuner-lock`` for a journal file, a PostgreSQL
advisory lock or a MySQL named lock for a database; nothing for an in-memory
study (one process) or SQLite (one worker). The trial loop asks for trials
under it (:mod:`~tuner.search.loop`), so the study budget is exact; joining a
study (orphan recovery, worker indices, grid enqueueing) runs under it too.

Examples
--------
>>> import optuna
>>> storage = optuna.storages.InMemoryStorage()
>>> with study_lock(storage, "any"):
...     pass
"""

import hashlib
import os
from contextlib import contextmanager

from tuner.search.storage import journal_path

try:  # POSIX only; elsewhere a journal study is not locked across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@contextmanager
def _file_lock(path):
    """Hold an exclusive POSIX lock on ``path`` (created if missing)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def _database_lock(engine, study_name):
    """Hold a PostgreSQL advisory lock or a MySQL named lock on one connection."""
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":  # key: a signed 64-bit hash of the study name
        key = hashlib.blake2b(f"tuner:{study_name}".encode(), digest_size=8).digest()
        take, give, args = ("SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)",
                            {"k": int.from_bytes(key, "big", signed=True)})
    else:  # mysql / mariadb: wait up to an hour for the named lock
        take, give, args = ("SELECT GET_LOCK(:k, 3600)", "SELECT RELEASE_LOCK(:k)",
                            {"k": f"tuner:{study_name}"[:64]})
    with engine.connect() as connection:
        connection.execute(text(take), args)
        try:
            yield
        finally:
            connection.execute(text(give), args)
            connection.commit()


@contextmanager
def study_lock(storage, study_name):
    """Hold the lock shared by every process (and machine) working on one study.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage or None
        The study's storage; ``None`` or an in-memory storage needs no lock.
    study_name : str
    """
    path = journal_path(storage)
    engine = getattr(storage, "engine", None)
    if path is not None and fcntl is not None:
        with _file_lock(f"{path}.tuner-lock"):
            yield
    elif engine is not None and engine.dialect.name in ("postgresql", "mysql", "mariadb"):
        with _database_lock(engine, study_name):
            yield
    else:  # in memory (one process) or SQLite (one worker)
        yield
