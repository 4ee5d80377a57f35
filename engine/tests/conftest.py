"""Fixtures: a real engine process (python -m wcse_engine serve) on a free port, talked to over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EngineProcess:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = state_dir.parent / f"engine-{self.port}.log"

    def start(self, timeout: float = 120) -> EngineProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wcse_engine",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--state-dir",
                str(self.state_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited early:\n{self.log_path.read_text()[-3000:]}")
            if "wcse-engine ready on" in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise TimeoutError(f"engine not ready:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, like a crash: no cleanup code runs."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, timeout: float = 300) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> EngineProcess:
    process = EngineProcess(tmp_path_factory.mktemp("engine") / "state").start()
    yield process
    process.stop()


@pytest.fixture()
def client(engine) -> httpx.Client:
    with engine.client() as http:
        yield http


def upload_jsonl(client: httpx.Client, rows: list[dict], name: str = "train.jsonl") -> str:
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    response = client.post(
        "/v1/files", files={"file": (name, content, "application/jsonl")}, data={"purpose": "fine-tune"}
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait_for_job(
    client: httpx.Client, job_id: str, statuses=("succeeded", "failed", "cancelled"), timeout: float = 240
) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/v1/fine_tuning/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} still {job['status']}")
