"""A real MLflow tracking server for the tests: SQLite backend, artifacts in a temporary folder, 127.0.0.1 only.

The server runs from its own venv (``.venv-mlflow``, made by ``make setup``: full ``mlflow`` pins pyarrow below the
gate's), while the tests' process has only the client (``mlflow-skinny``, the ``[mlflow]`` extra). Without that
venv the tests are skipped, unless ``GOVERNANCE_REQUIRE_MLFLOW=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the server's executable: GOVERNANCE_MLFLOW_SERVER, else the venv make setup builds
SERVER = Path(os.environ.get("GOVERNANCE_MLFLOW_SERVER", ROOT / ".venv-mlflow" / "bin" / "mlflow"))
#: how long a cold start may take (first start: database migrations, byte-compiling on a busy machine)
START_TIMEOUT_S = 240


@dataclass(frozen=True)
class Server:
    url: str
    artifacts: Path
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # 127.0.0.1 only
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (it was started in a session of its own: uvicorn has worker children)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not SERVER.is_file():
        message = f"no MLflow server at {SERVER}: run make setup (it builds .venv-mlflow)"
        if os.environ.get("GOVERNANCE_REQUIRE_MLFLOW"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(SERVER), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"the MLflow server did not become healthy (exit {proc.poll()}):\n{tail}")
            time.sleep(0.25)
        yield Server(url=url, artifacts=folder / "artifacts", log=log)
    finally:
        _stop(proc)
