"""Which process runs where: identities of workers and whether a process still runs.

A worker is known by its host, pid, boot id and process start time (from
``/proc``, Linux), so a reused pid or a reboot is never mistaken for the worker.

Examples
--------
>>> import os
>>> process_alive(os.getpid()), worker_identity()["pid"] == os.getpid()
(True, True)
"""

import os
import socket
from functools import lru_cache
from pathlib import Path


def _boot_id():
    """This machine's boot id (Linux), so a reboot marks every old pid as gone."""
    path = Path("/proc/sys/kernel/random/boot_id")
    return path.read_text().strip() if path.exists() else ""


def _proc_stat(pid):
    """``(state, parent pid, start time in clock ticks)`` of a process from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[19])  # fields 3, 4, 22 of proc(5)


def process_alive(pid, start_ticks=None):
    """True when process ``pid`` of this machine runs (and started at ``start_ticks``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    state, _, ticks = _proc_stat(pid) or ("R", None, start_ticks)  # no /proc: trust os.kill
    return state not in ("Z", "X") and (start_ticks is None or ticks == start_ticks)


def parent_pid(pid):
    """The parent's pid of process ``pid`` of this machine, or None when it is gone."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


@lru_cache(maxsize=4)
def _identity(pid):
    """Host, pid, boot id and start time of process ``pid`` (cached: it never changes)."""
    stat = _proc_stat(pid)
    return {"host": socket.gethostname(), "pid": pid, "boot": _boot_id(),
            "start_ticks": stat[2] if stat else None}


def worker_identity():
    """Host, pid, boot id and process start time of this process (a dict)."""
    return dict(_identity(os.getpid()))


def runs_here(trial):
    """True when this process or one of its children runs ``trial`` (or no worker is
    recorded): what an interrupt of this process may fail, unlike other workers' trials."""
    from tuner.search.trials import worker_of

    info, pid = worker_of(trial), os.getpid()
    if not info or info["host"] != socket.gethostname():
        return not info
    ppid = parent_pid(info["pid"])
    if ppid is None:  # gone: orphan recovery will fail it
        return False
    return pid in (info["pid"], ppid)
