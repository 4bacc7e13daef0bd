"""A Ctrl-C during a journal append waits for the append (tuner.search.interrupts)."""

import json
import os
import signal

import pytest
from optuna.storages.journal import JournalFileSymlinkLock

from tuner.search.interrupts import interrupts_deferred
from tuner.search.storage import JournalFile


class _InterruptingLock(JournalFileSymlinkLock):
    """A journal lock that sends this process SIGINT once it holds the lock."""

    def acquire(self):
        acquired = super().acquire()
        os.kill(os.getpid(), signal.SIGINT)
        return acquired


def test_interrupts_deferred_delivers_sigint_after_the_block():
    done = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("block finished")
    assert done == ["block finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_interrupts_deferred_keeps_an_ignored_sigint_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_journal_file_append_completes_and_releases_its_lock_before_a_sigint(tmp_path):
    path = str(tmp_path / "study.journal")
    backend = JournalFile(path, lock_obj=_InterruptingLock(path))
    with pytest.raises(KeyboardInterrupt):
        backend.append_logs([{"op_code": 0, "worker_id": "w"}])
    lines = (tmp_path / "study.journal").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"op_code": 0, "worker_id": "w"}]
    assert sorted(os.listdir(tmp_path)) == ["study.journal"]  # no lock or rename file left
