"""Worker indices and seeds: every worker of a study gets its own random streams.

Each joining process takes fresh indices from a counter on the study
(:data:`WORKERS_ATTR`); sampler seeds derive from the study seed and the index,
so they are unique also for workers that join from other machines or a resumed run.

Examples
--------
>>> worker_seeds(0, 2)[2] == worker_seeds(0, 1, first=1)[1]
True
"""

import numpy as np
from sklearn.utils import check_random_state

#: System attribute of a study: the number of worker indices handed out so far.
WORKERS_ATTR = "tuner:n_workers"


def claim_worker_indices(study, storage, count):
    """Take ``count`` worker indices from the study's counter; return the first one.

    Call it under :func:`~tuner.search.lock.study_lock`. Indices are never handed
    out twice.

    Examples
    --------
    >>> import optuna
    >>> storage = optuna.storages.InMemoryStorage()
    >>> study = optuna.create_study(storage=storage)
    >>> claim_worker_indices(study, storage, 2), claim_worker_indices(study, storage, 1)
    (0, 2)
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    first = int(storage.get_study_system_attrs(study_id).get(WORKERS_ATTR, 0))
    storage.set_study_system_attr(study_id, WORKERS_ATTR, first + count)
    return first


def worker_seeds(random_state, n_workers, *, first=0):
    """[estimator seed, sampler seeds of worker indices first, first + 1, ...], or Nones:
    SeedSequence children of the study seed (key 0: estimator; i + 1: worker index i)."""
    if random_state is None:
        return [None] * (n_workers + 1)
    base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    children = np.random.SeedSequence(base).spawn(first + n_workers + 1)
    return [int(child.generate_state(1)[0] % np.iinfo(np.int32).max)
            for child in [children[0], *children[first + 1:]]]
