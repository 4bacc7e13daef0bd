"""Ctrl-C held back while a storage write is in flight.

A ``KeyboardInterrupt`` raised inside Optuna's journal-file lock (between
taking the lock and removing its rename file) leaves the lock half released:
the clean-up then fails with ``FileNotFoundError`` and the trial is recorded
as a crash, with a traceback. :func:`interrupts_deferred` makes each write
atomic with respect to SIGINT: the signal is recorded, the write finishes,
then the handler that was installed before runs as if the signal had just
arrived.
"""

import signal
import threading
from contextlib import contextmanager


def _deliver(handler, frame):
    """Run ``handler`` for one SIGINT as the interpreter would have."""
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signal.SIGINT)  # default action: end the process


@contextmanager
def interrupts_deferred():
    """Hold SIGINT for the duration of the block, then deliver it once.

    Only the main thread receives Python signal handlers, so in any other
    thread the block runs unchanged.

    Examples
    --------
    >>> import os, signal
    >>> try:
    ...     with interrupts_deferred():
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         print("write finished")
    ... except KeyboardInterrupt:
    ...     print("interrupted afterwards")
    write finished
    interrupted afterwards
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and previous != signal.SIG_IGN:
            _deliver(previous, received[0])
