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

#: Seconds between heartbeats of a running trial in an RDB storage.
HEARTBEAT_INTERVAL = 30
#: A running trial without a heartbeat for this long is stale (failed, then retried once).
GRACE_PERIOD = 120


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


def _journal(path):
    """A journal-file storage at ``path`` (parent directories created)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _rdb(url):
    """An RDB storage with heartbeats and one retry of stale trials."""
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        return RDBStorage(url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
                          heartbeat_stale_trial_callback=retry,
                          engine_kwargs={"pool_pre_ping": True})


def resolve_storage(storage, *, n_workers):
    """Resolve a ``storage=`` value into a :class:`ResolvedStorage`.

    Parameters
    ----------
    storage : None, str, pathlib.Path or optuna.storages.BaseStorage (see the module)
    n_workers : int
        Number of worker processes that will share the study.

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
        text = os.fspath(storage)
        if text.startswith("sqlite") and n_workers > 1:  # SQLite locks under concurrency
            raise ConfigError("SQLite is for one worker only", key="storage", value=text,
                              allowed="a journal file path (one machine) or a postgresql:// "
                                      "URL (several machines) when n_jobs > 1")
        return ResolvedStorage(_rdb(text) if "://" in text else _journal(text))
    raise ConfigError("unsupported storage", key="storage", value=storage,
                      allowed="None, a journal file path, a database URL or an optuna storage")


# ---------------------------------------------------------------- stored studies (CLI, report)

def stored_study(storage, study_name):
    """(Optuna storage, study id) of a stored study; (storage or None, None) when there is none.

    A journal path that does not exist yet is not created: looking never writes.
    """
    if "://" not in str(storage) and not Path(storage).expanduser().is_file():
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
