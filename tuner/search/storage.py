"""Turn the ``storage=`` argument of a search into an Optuna storage, in one place.

Accepted values (see :func:`resolve_storage`):

- ``None``: an in-memory study for one worker; for several worker processes a
  journal file in a temporary directory, removed when the search ends.
- a path (``str`` or :class:`pathlib.Path`, no ``://``): a journal file,
  ``JournalStorage(JournalFileBackend(path))``, the multi-process storage for one
  machine (it has no heartbeats: a killed worker leaves its trial ``RUNNING``).
- a database URL (``postgresql+psycopg2://...``, ``sqlite:///...``): an
  ``RDBStorage`` with heartbeats, so trials of a crashed worker are failed and
  re-queued once (``RetryHeartbeatStaleTrialCallback``). SQLite is not for
  parallel workers.
- an Optuna storage object, used as is.

Heartbeats: a running trial writes one every ``heartbeat_interval`` seconds
(default :data:`HEARTBEAT_INTERVAL`); a trial silent for ``grace_period``
seconds (default :data:`GRACE_PERIOD`) is failed and retried once by the next
worker that starts a trial. Both are keyword arguments of :func:`resolve_storage`
and, for the command line and worker processes, the environment variables
``TUNER_HEARTBEAT_INTERVAL`` and ``TUNER_GRACE_PERIOD`` (whole seconds > 0).

:func:`check_storage` finds a storage a command cannot use (SQLite shared by
several processes, an unknown scheme, a missing database driver, a database
that refuses the connection) without creating anything.

Examples
--------
>>> with resolve_storage(None, n_workers=1) as resolved:
...     type(resolved.storage).__name__
'InMemoryStorage'
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from tuner.errors import ConfigError
from tuner.search.interrupts import interrupts_deferred

#: Seconds between heartbeats of a running trial in an RDB storage.
HEARTBEAT_INTERVAL = 30
#: A running trial without a heartbeat for this long is stale (failed, then retried once).
GRACE_PERIOD = 120
#: Environment variables overriding the two (whole seconds > 0).
HEARTBEAT_ENV, GRACE_PERIOD_ENV = "TUNER_HEARTBEAT_INTERVAL", "TUNER_GRACE_PERIOD"
#: What a database URL that works looks like, per SQLAlchemy dialect.
URL_FORMS = {"postgresql": "postgresql+psycopg2://user:password@host:5432/db "
                           "(pip install psycopg2-binary)",
             "mysql": "mysql+pymysql://user:password@host:3306/db (pip install pymysql)"}


@dataclass
class ResolvedStorage:
    """An Optuna storage plus what to clean up when the search is done.

    Attributes
    ----------
    storage : optuna.storages.BaseStorage
        The storage to create or load the study in. Picklable, so worker
        processes receive it and reconnect (journal file replay, RDB engine).
    temporary_dir : str or None
        A directory created for this search and removed by :meth:`cleanup`.
    """

    storage: optuna.storages.BaseStorage
    temporary_dir: str | None = None

    @property
    def is_temporary(self):
        """True when the storage disappears after the search."""
        return self.temporary_dir is not None

    def cleanup(self):
        """Remove the temporary directory, if any."""
        if self.temporary_dir is not None:
            shutil.rmtree(self.temporary_dir, ignore_errors=True)
            self.temporary_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cleanup()
        return False


class JournalFile(JournalFileBackend):
    """Optuna's journal-file backend whose appends a Ctrl-C cannot cut in half.

    Parameters
    ----------
    path : str
        The journal file.
    lock_obj : optuna.storages.journal.BaseJournalFileLock, optional
        As for ``JournalFileBackend`` (default: its symlink lock).
    """

    def __init__(self, path, lock_obj=None):
        super().__init__(path, lock_obj)
        self.path = path

    def append_logs(self, logs):
        with interrupts_deferred():
            super().append_logs(logs)


def journal_path(storage):
    """The file behind a journal-file storage, else None.

    Optuna has no public accessor for either the storage's backend or the
    backend's file, so this is the one place that reads ``_backend`` and
    ``_file_path`` (of backends not created by tuner).
    """
    backend = getattr(storage, "_backend", None)
    return getattr(backend, "path", None) or getattr(backend, "_file_path", None)


def _journal(path):
    """A journal-file storage at ``path`` (parent directories created)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFile(str(path)))


def _seconds(value, env, default):
    """``value``, else the whole seconds > 0 in environment variable ``env``, else ``default``."""
    if value is not None:
        return value
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError("must be a whole number of seconds > 0", key=env, value=text)
    return int(text)


def _rdb(url, heartbeat_interval=None, grace_period=None):
    """An RDB storage with heartbeats and one retry of stale trials."""
    from sqlalchemy.exc import SQLAlchemyError

    interval = _seconds(heartbeat_interval, HEARTBEAT_ENV, HEARTBEAT_INTERVAL)
    grace = _seconds(grace_period, GRACE_PERIOD_ENV, GRACE_PERIOD)
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        try:
            return RDBStorage(url, heartbeat_interval=interval, grace_period=grace,
                              heartbeat_stale_trial_callback=retry,
                              engine_kwargs={"pool_pre_ping": True})
        except (ImportError, SQLAlchemyError):  # a user's URL: say what is wrong in one line
            check_database_url(url)
            raise


def _from_text(text, n_workers, heartbeat_interval, grace_period):
    """The storage of a journal path or a database URL."""
    if text.startswith("sqlite") and n_workers > 1:
        check_storage(text, n_workers=n_workers)  # SQLite locks under concurrency
    if "://" not in text:
        return ResolvedStorage(_journal(text))
    return ResolvedStorage(_rdb(text, heartbeat_interval, grace_period))


def resolve_storage(storage, *, n_workers, heartbeat_interval=None, grace_period=None):
    """Resolve a ``storage=`` value into a :class:`ResolvedStorage`.

    Parameters
    ----------
    storage : None, str, pathlib.Path or optuna.storages.BaseStorage (see the module)
    n_workers : int
        Number of worker processes that will share the study.
    heartbeat_interval, grace_period : int, optional
        Seconds, for a database URL (see the module; default: the environment, else
        :data:`HEARTBEAT_INTERVAL` and :data:`GRACE_PERIOD`).

    Returns
    -------
    ResolvedStorage
        A context manager (removes a temporary journal); ConfigError for bad values.

    Examples
    --------
    >>> with resolve_storage(None, n_workers=2) as resolved:
    ...     type(resolved.storage).__name__, resolved.is_temporary
    ('JournalStorage', True)
    """
    if storage is None and n_workers <= 1:
        return ResolvedStorage(InMemoryStorage())
    if storage is None:
        tmp = tempfile.mkdtemp(prefix="tuner-study-")
        return ResolvedStorage(_journal(os.path.join(tmp, "journal.log")), temporary_dir=tmp)
    if isinstance(storage, optuna.storages.BaseStorage):
        if isinstance(storage, InMemoryStorage) and n_workers > 1:
            raise ConfigError("an in-memory storage cannot be shared by worker processes",
                              key="storage", value=type(storage).__name__,
                              allowed="a journal file path or a database URL when n_jobs > 1")
        return ResolvedStorage(storage)
    if isinstance(storage, os.PathLike) or (isinstance(storage, str) and storage):
        return _from_text(os.fspath(storage), n_workers, heartbeat_interval, grace_period)
    raise ConfigError("unsupported storage", key="storage", value=storage,
                      allowed="None, a journal file path, a database URL or an optuna storage")


# ---------------------------------------------------------------- checks before a command

def sqlite_path(url):
    """The file of a ``sqlite:///path`` URL (a Path), or None for other storages."""
    text = str(url)
    if not text.lower().startswith("sqlite") or "://" not in text:
        return None
    path = text.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    return Path(path).expanduser() if path and path != ":memory:" else None


def _masked(url):
    """The URL without its password (for messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not parseable: nothing to hide that we could find
        return url


def check_database_url(url, *, key="storage", source=None, timeout=10):
    """Raise ConfigError unless SQLAlchemy knows ``url``, its driver imports and it connects.

    Connects once (``connect_timeout`` seconds) and writes nothing. The message
    names the URL form that works (e.g. ``postgresql+psycopg2://``: SQLAlchemy 2.1
    picks the ``psycopg`` 3 driver for a bare ``postgresql://``).
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    shown = _masked(url)
    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ConfigError("not a database URL SQLAlchemy knows", source=source, key=key,
                          value=shown, allowed="; ".join(URL_FORMS.values())) from None
    form = URL_FORMS.get(parsed.get_backend_name(), "a URL with an installed driver")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(f"the database driver {parsed.get_driver_name()!r} of this URL is not "
                          f"installed ({exc})", source=source, key=key, value=shown,
                          allowed=form) from None
    timeouts = {"connect_timeout": timeout} if parsed.get_backend_name() in URL_FORMS else {}
    engine = create_engine(parsed, connect_args=timeouts)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"cannot connect to the database: {reason}", source=source, key=key,
                          value=shown, allowed=f"a running database server, e.g. {form}") from None
    finally:
        engine.dispose()


def check_storage(storage, *, n_workers=1, joining=False, source=None):
    """Raise ConfigError for a storage a command cannot use; create nothing.

    Parameters
    ----------
    storage : str, pathlib.Path, optuna storage or None
        As for :func:`resolve_storage` (objects and None are not checked).
    n_workers : int, default=1
        Worker processes of this command.
    joining : bool, default=False
        True for ``tuner worker``: another process (the run) writes the study too,
        so SQLite is refused even for one worker.
    source : str, optional
        The experiment file, for the message.

    Examples
    --------
    >>> check_storage("study.journal", n_workers=4)
    >>> check_storage("sqlite:///s.db", joining=True)
    Traceback (most recent call last):
    ...
    tuner.errors.ConfigError: storage: SQLite is for one worker only ...
    """
    if not isinstance(storage, str | os.PathLike) or "://" not in os.fspath(storage):
        return
    text = os.fspath(storage)
    if sqlite_path(text) is not None or text.lower().startswith("sqlite"):
        if n_workers > 1 or joining:  # SQLite locks (and fails) under concurrent writers
            raise ConfigError("SQLite is for one worker only", source=source, key="storage",
                              value=text, allowed="a journal file path (one machine) or a "
                              "PostgreSQL URL like postgresql+psycopg2://user:password@host/db")
        return
    check_database_url(text, source=source)


# ---------------------------------------------------------------- stored studies (CLI, report)

def stored_study(storage, study_name):
    """(Optuna storage, study id) of a stored study; (storage or None, None) when there is none.

    A journal path or SQLite file that does not exist yet is not created: looking
    never writes.
    """
    text = str(storage)
    if "://" not in text and not Path(text).expanduser().is_file():
        return None, None
    if sqlite_path(text) is not None and not sqlite_path(text).is_file():
        return None, None
    backend = resolve_storage(storage, n_workers=1).storage
    try:
        return backend, backend.get_study_id_from_name(study_name)
    except KeyError:
        return backend, None


def stored_trials(storage, study_name):
    """The stored trials of a study (FrozenTrial list), or None when there is no such study."""
    backend, study_id = stored_study(storage, study_name)
    return None if study_id is None else backend.get_all_trials(study_id, deepcopy=False)


def stored_study_attrs(storage, study_name):
    """The user attributes of a stored study ({} when there is no such study)."""
    backend, study_id = stored_study(storage, study_name)
    return {} if study_id is None else backend.get_study_user_attrs(study_id)


def delete_stored_study(storage, study_name):
    """Delete a stored study (``--fresh``); True when there was one."""
    backend, study_id = stored_study(storage, study_name)
    if study_id is not None:
        backend.delete_study(study_id)
    return study_id is not None


def load_stored_study(storage, study_name):
    """The :class:`optuna.Study` of a stored study (for reports); None when there is none."""
    backend, study_id = stored_study(storage, study_name)
    return None if study_id is None else optuna.load_study(study_name=study_name,
                                                            storage=backend)
