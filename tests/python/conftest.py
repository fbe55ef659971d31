"""Test support: the real `hub` binary on a free port, and python-socketio clients connected to it.

One hub serves the whole session (each test uses rooms of its own). Every client test runs on both
transports: HTTP long-polling (through requests) and websocket (through websocket-client).
"""

import os
import queue
import re
import secrets
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"hub listening on (http://127\.0\.0\.1:\d+)")
WAIT = 5.0


@dataclass
class Hub:
    url: str
    token: str


def hub_binary():
    target = os.environ.get("HUB_TARGET_DIR", ROOT / "target" / "debug")
    return Path(target) / "hub"


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """Starts the real hub on a free port with a fresh publish token, and stops it after the session."""
    token = secrets.token_urlsafe(32)
    # With the token given the hub writes no token file; the path still points into a temporary directory
    # so that no run could ever replace the file a developer's own hub and `publish` use. And none of the
    # developer's HUB_* settings.
    token_file = tmp_path_factory.mktemp("hub") / "publish-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["RUST_LOG"] = "info"
    args = [str(hub_binary()), "--bind", "127.0.0.1:0", "--publish-token", token, "--token-file", str(token_file)]
    process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines = []
    found = queue.Queue()

    def read_log():
        # Reads stderr until the hub exits: a pipe nobody reads would fill and stall the hub's logging.
        for line in process.stderr:
            lines.append(line)
            match = LISTENING.search(line)
            if match:
                found.put(match.group(1))

    threading.Thread(target=read_log, daemon=True).start()
    try:
        url = found.get(timeout=10)
    except queue.Empty:
        process.kill()
        pytest.fail(f"the hub did not start ({hub_binary()}):\n{''.join(lines)}")
    yield Hub(url=url, token=token)
    process.terminate()
    assert process.wait(timeout=10) == 0, "the hub exits 0 on SIGTERM"


@pytest.fixture(params=["polling", "websocket"])
def transport(request):
    return request.param


@pytest.fixture
def connect(hub, transport):
    """Connects python-socketio clients over this test's transport; disconnects them after the test."""
    clients = []

    def connect(auth=None, namespace="/"):
        client = socketio.Client(reconnection=False)
        client.connect(hub.url, auth=auth, transports=[transport], namespaces=[namespace],
                       wait_timeout=WAIT)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.disconnect()


@pytest.fixture
def room():
    """A room name no other test uses."""
    return f"room-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def received(monkeypatch):
    """Waits for what an event handler put on a queue.

    python-socketio calls each handler in a thread of its own: a handler that raises (one called with
    more arguments than it takes raises TypeError) only ends that thread, and the event is lost. Such
    errors are recorded here and make the failure message.
    """
    errors = []
    previous = threading.excepthook

    def record(args):
        errors.append(f"{args.exc_type.__name__}: {args.exc_value}")
        previous(args)

    monkeypatch.setattr(threading, "excepthook", record)

    def received(inbox, event):
        try:
            return inbox.get(timeout=WAIT)
        except queue.Empty:
            pass
        pytest.fail(f"no {event!r} event handled within {WAIT} s; errors in handlers: {errors or 'none'}")

    return received
