"""Fixtures that run a real `python -m qbo_sandbox` process for the tests that talk to it.

The sandbox is a separate process on purpose: the client libraries reach it over HTTP exactly as they
would reach Intuit, so nothing in a test can agree with the emulator by sharing code with it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "http://127.0.0.1:8000/quickbooks/callback/"

# python-quickbooks refuses plain-http API URLs unless oauthlib is told this is a local test.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sandbox:
    url: str
    process: subprocess.Popen

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid_configuration"

    @property
    def api_url(self) -> str:
        return f"{self.url}/v3"

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call the JSON control surface under /__sandbox__/ and return the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/__sandbox__/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}


def start_sandbox(*extra_args: str, data_dir: Path | None = None) -> Sandbox:
    port = _free_port()
    args = [sys.executable, "-m", "qbo_sandbox", "--port", str(port), *extra_args]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sandbox = Sandbox(url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qbo_sandbox exited early: {process.stderr.read().decode()}")
        try:
            sandbox.control("GET", "health")
            return sandbox
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("qbo_sandbox did not answer /__sandbox__/health within 15 s")


def stop_sandbox(sandbox: Sandbox) -> None:
    sandbox.process.terminate()
    try:
        sandbox.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sandbox.process.kill()


@pytest.fixture(scope="session")
def sandbox_process():
    sandbox = start_sandbox("--minute-seconds", "60")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def sandbox(sandbox_process):
    """A running sandbox, reset to an empty state before each test."""
    sandbox_process.control("POST", "reset")
    return sandbox_process
