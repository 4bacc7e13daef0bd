"""Start the MLflow UI (``mlflow server``) on a store; used by ``python -m tuner ui``.

The server runs in its own process group (``mlflow server`` starts a uvicorn
child). Stopping the launcher with Ctrl-C (SIGINT) or SIGTERM sends SIGTERM to
that whole group and waits until it is gone, so no server is left listening;
:class:`ServerProcess` (what ``launch_ui(block=False)`` returns) does the same
for ``terminate()`` and ``kill()``.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

_STOP_SECONDS = 15  # how long a stopping server may take before it is killed
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # besides SIGINT (Ctrl-C): stop the server


class ServerProcess(subprocess.Popen):
    """A ``Popen`` whose signals go to the child's whole process group.

    Start it with ``start_new_session=True`` (its pid is then the group id);
    ``terminate()`` / ``kill()`` reach the server and the workers it started."""

    def send_signal(self, sig):
        """Send ``sig`` to the process group of the child (while the child is running)."""
        self.poll()
        if self.returncode is None:
            _signal_group(self.pid, sig)

    def stop(self, timeout=_STOP_SECONDS):
        """Stop the server and every process of its group; return the server's exit code.

        SIGTERM to the group, wait up to ``timeout`` seconds for all of it to exit,
        then SIGKILL what is left. Ctrl-C and SIGTERM are ignored meanwhile, so a
        second one cannot leave the server half-stopped."""
        with _ignoring(signal.SIGINT, *_STOP_SIGNALS):
            _signal_group(self.pid, signal.SIGTERM)  # also if the leader already exited
            deadline = time.monotonic() + timeout
            while (self.poll() is None or _group_alive(self.pid)) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.poll() is None or _group_alive(self.pid):  # did not stop in time
                _signal_group(self.pid, signal.SIGKILL)
            return self.wait()


def _signal_group(pgid, sig):
    """``killpg`` that ignores a group that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid):
    """True while some process of group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class _SignalHandlers:
    """Context manager: install ``handler`` for ``signals`` (main thread only), then restore."""

    def __init__(self, handler, *signals):
        self.handler, self.signals, self.previous = handler, signals, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self.handler) for sig in self.signals}
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _ignoring(*signals):
    """Ignore ``signals`` inside the block."""
    return _SignalHandlers(signal.SIG_IGN, *signals)


def _raise_interrupt(signum, frame):
    """Signal handler: SIGTERM / SIGHUP stop the launcher like Ctrl-C."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _server_command(uri, host, port):
    """Command line of a lean ``mlflow server``: one worker, no job runner."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
            "--host", host, "--port", str(port), "--workers", "1"]


def _wait_healthy(process, url, timeout):
    """Poll ``GET /health`` until it answers OK; raise if the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    process.stop()
    raise TimeoutError(f"mlflow server at {url} not healthy after {timeout:.0f} s")


def launch_ui(tracking_uri=None, *, host="127.0.0.1", port=5000, block=True, timeout=120,
              quiet=False):
    """Run the MLflow UI on the tracking store, loopback only unless ``host`` says otherwise.

    Parameters
    ----------
    tracking_uri : str, optional
        Store to show (resolved like :func:`tuner.tracking.resolve_tracking_uri`).
    host : str, default="127.0.0.1"
        Interface to bind; ``0.0.0.0`` exposes the UI to the network.
    port : int, default=5000
    block : bool, default=True
        Wait until the server exits; Ctrl-C, SIGTERM or SIGHUP stop it (and every
        process it started) first. With False, return the running
        :class:`ServerProcess` (the caller stops it: ``stop()`` or ``terminate()``).
    timeout : float, default=120
        Seconds to wait for ``GET /health``.
    quiet : bool, default=False
        Send the server's own output to ``/dev/null`` and do not print the URL.

    Returns
    -------
    ServerProcess or None
        The server process when ``block=False``.

    Examples
    --------
    >>> server = launch_ui("sqlite:///mlflow.db", port=5001, block=False)  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
    """
    from tuner.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    process, url = _start(uri, host, port, timeout=timeout, quiet=quiet)
    if not quiet:
        print(f"MLflow UI for {uri} at {url}  (Ctrl-C to stop)", flush=True)
    if not block:
        return process
    with _SignalHandlers(_raise_interrupt, *_STOP_SIGNALS):
        try:
            process.wait()
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: stop the server's whole group
            pass
        finally:
            process.stop()
    return None


def _start(uri, host, port, *, timeout, quiet):
    """Start the server and wait until it is healthy; return ``(process, url)``."""
    # one gunicorn/uvicorn worker and no job runner: starts in seconds with ~0.5 GB
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    output = subprocess.DEVNULL if quiet else None
    process = ServerProcess(_server_command(uri, host, port), env=env, stdout=output,
                            stderr=output, start_new_session=True)  # own group: see stop()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        _wait_healthy(process, url, timeout)
    except BaseException:
        process.stop()
        raise
    return process, url
