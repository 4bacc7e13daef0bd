"""Start the MLflow UI (``mlflow server``) on a store; used by ``python -m tuner ui``."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request


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
    process.terminate()
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
        Wait until the server exits (Ctrl-C stops it). With False, return the
        running ``subprocess.Popen`` (the caller terminates it).
    timeout : float, default=120
        Seconds to wait for ``GET /health``.
    quiet : bool, default=False
        Send the server's own output to ``/dev/null`` and do not print the URL.

    Returns
    -------
    subprocess.Popen or None
        The server process when ``block=False``.

    Examples
    --------
    >>> server = launch_ui("sqlite:///mlflow.db", port=5001, block=False)  # doctest: +SKIP
    >>> server.terminate()  # doctest: +SKIP
    """
    from tuner.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    process, url = _start(uri, host, port, timeout=timeout, quiet=quiet)
    if not quiet:
        print(f"MLflow UI for {uri} at {url}  (Ctrl-C to stop)", flush=True)
    if not block:
        return process
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
    return None


def _start(uri, host, port, *, timeout, quiet):
    """Start the server and wait until it is healthy; return ``(process, url)``."""
    # one gunicorn/uvicorn worker and no job runner: starts in seconds with ~0.5 GB
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(_server_command(uri, host, port), env=env,
                               stdout=output, stderr=output)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        _wait_healthy(process, url, timeout)
    except BaseException:
        process.terminate()
        raise
    return process, url
