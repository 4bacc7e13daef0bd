"""The MLflow UI started by ``launch_ui`` shows a real study: REST API and headless Chromium.

The store is the one filled by the ``tracked_search`` fixture (conftest.py):
parent run ``tiny-grid`` with children ``trial-000`` .. ``trial-003``.
"""

import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import requires_or_ci

from tuner.tracking import launch_ui

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
TRIALS = [f"trial-00{n}" for n in range(4)]

pytestmark = pytest.mark.slow  # the server takes ~8 s to start


def _free_port():
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    """GET ``url`` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _post(url, body):
    """POST ``body`` as JSON to ``url`` and decode the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def ui(tracked_search):
    """``launch_ui`` on the fixture's store, on a free loopback port; stopped afterwards."""
    port = _free_port()
    server = launch_ui(tracked_search.uri, port=port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}", tracked_search
    server.stop()


def test_ui_health_and_rest_api_list_children_with_epoch_history(ui):
    url, tracked = ui
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert response.read().strip() == b"OK"
    parent = tracked.tracker.parent_run_id
    runs = _post(f"{url}/api/2.0/mlflow/runs/search", {
        "experiment_ids": [tracked.tracker.experiment_id],
        "filter": f"tags.`mlflow.parentRunId` = '{parent}'"})["runs"]
    names = sorted(run["info"]["run_name"] for run in runs)
    assert names == TRIALS
    for run in runs:
        metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
        query = urllib.parse.urlencode({"run_id": run["info"]["run_id"],
                                        "metric_key": "mean_test_score"})
        history = _get(f"{url}/api/2.0/mlflow/metrics/get-history?{query}").get("metrics", [])
        assert sorted(p["step"] for p in history) == list(range(1, len(history) + 1))
        assert len(history) == metrics.get("n_epochs", 0)


def test_ui_experiment_page_shows_parent_and_children(ui, tmp_path):
    requires_or_ci(CHROMIUM.exists(), f"needs Chromium at {CHROMIUM}")
    requires_or_ci(importlib.util.find_spec("playwright") is not None, "needs playwright")
    from playwright.sync_api import sync_playwright

    url, tracked = ui
    page_url = (f"{url}/#/experiments/{tracked.tracker.experiment_id}/runs"
                "?workflowType=machine_learning")
    shot = tmp_path / "mlflow_ui.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 700})
            page.goto(page_url)
            page.wait_for_selector("text=tiny-grid", timeout=60_000)
            close = page.locator('button[aria-label="Close"]')  # the assistant side panel
            if close.count():
                close.first.click()
            # MLflow 3 groups child runs under their parent: expand the group
            page.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
            page.wait_for_selector(f"text={TRIALS[-1]}", timeout=30_000)
            text = page.inner_text("body")
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert "tiny-grid" in text and all(name in text for name in TRIALS)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


# ---- the command line launcher ------------------------------------------------------
def _descendants(pid):
    """Pids of every process below ``pid`` (read from /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _running(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listening(port):
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _read_line_starting(stream, prefix, timeout):
    """The first line of ``stream`` that starts with ``prefix`` (None at EOF or timeout).

    Reads the pipe's raw bytes: ``select`` on a buffered ``readline`` can miss a
    line already sitting in Python's buffer and wait for output that never comes.
    """
    deadline, pending = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return None
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line.decode(errors="replace").startswith(prefix):
                return line.decode() + "\n"
    return None


def _eventually(condition, timeout):
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_ui_cli_prints_url_and_a_signal_stops_the_whole_server(tmp_path, stop_signal):
    port, uri = _free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    launcher = subprocess.Popen([sys.executable, "-m", "tuner", "ui", "--port", str(port)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    server = []
    try:
        line = _read_line_starting(launcher.stdout, "MLflow UI for", timeout=180)
        assert line == f"MLflow UI for {uri} at http://127.0.0.1:{port}  (Ctrl-C to stop)\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            assert answer.read().strip() == b"OK"
        server = _descendants(launcher.pid)  # mlflow server and its uvicorn
        assert len(server) >= 2
        launcher.send_signal(stop_signal)  # to the launcher alone (kill, systemd, a shell)
        assert launcher.wait(timeout=60) == 0
        assert _eventually(lambda: not _listening(port), timeout=30)
        assert _eventually(lambda: not any(_running(pid) for pid in server), timeout=30)
    finally:
        server = server or _descendants(launcher.pid)  # never leave a server behind
        for pid in [launcher.pid, *server]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        launcher.wait()

