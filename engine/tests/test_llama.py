"""The llama-server proxy without a real llama-server: which models it takes, and how an n > 1 request is sent
(n concurrent n = 1 requests) and answered (every choice, usage summed). The real server is exercised by the
TypeScript suite (test/llama-server.test.ts)."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wcse_engine.errors import ApiError
from wcse_engine.jobs import JobStore
from wcse_engine.llama import LlamaServers, RunningServer, ServerPlan
from wcse_engine.registry import BUILTIN_MODELS, ModelRegistry
from wcse_engine.schemas import ChatCompletionRequest


class FakeLlama(BaseHTTPRequestHandler):
    """Answers each request with one choice whose length depends on the seed, like a sampler would."""

    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLlama.bodies.append(body)
        if body["messages"][-1]["content"] == "fail":
            self._reply(400, {"error": {"message": "the prompt is too long"}})
            return
        tokens = 3 + body.get("seed", 0) % 5
        self._reply(
            200,
            {
                "choices": [{"index": 0, "message": {"content": f"x{tokens}"}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": tokens, "total_tokens": 11 + tokens},
            },
        )

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def servers(tmp_path: Path):
    http = ThreadingHTTPServer(("127.0.0.1", 0), FakeLlama)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    registry = ModelRegistry(dict(BUILTIN_MODELS), tmp_path / "cache")
    llama = LlamaServers(Path("/nonexistent/llama-server"), registry, JobStore(tmp_path), tmp_path)
    sleeper = subprocess.Popen(["sleep", "60"])  # stands in for the llama-server process
    running = RunningServer(
        ServerPlan("smollm2-135m", Path("x.gguf"), [], None),
        sleeper,
        f"http://127.0.0.1:{http.server_port}",
        tmp_path,
    )
    llama._servers["smollm2-135m"] = running
    FakeLlama.bodies = []
    yield llama
    llama.stop()
    http.shutdown()


def test_gguf_models_go_to_llama_server_others_stay(servers: LlamaServers):
    assert servers.serves("smollm2-135m")
    assert servers.serves("gemma3-270m")
    assert not servers.serves("tiny-random")  # no GGUF
    assert not servers.serves("ft:smollm2-135m:ftjob-unknown")  # no such job
    assert servers.converter is None  # none next to the binary: fine-tunes stay on the engine's generation


def test_n_choices_are_n_requests_with_every_token_counted(servers: LlamaServers):
    request = ChatCompletionRequest.model_validate(
        {"model": "smollm2-135m", "messages": [{"role": "user", "content": "hi"}], "n": 3, "seed": 10, "max_tokens": 9}
    )
    answer = servers.chat_completion(request)
    assert sorted(body["seed"] for body in FakeLlama.bodies) == [10, 11, 12]
    assert all(body["n"] == 1 and body["max_tokens"] == 9 and body["top_k"] == 0 for body in FakeLlama.bodies)
    assert [choice["index"] for choice in answer["choices"]] == [0, 1, 2]
    expected = [3 + seed % 5 for seed in (10, 11, 12)]
    assert [choice["message"]["content"] for choice in answer["choices"]] == [f"x{t}" for t in expected]
    assert answer["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": sum(expected),
        "total_tokens": 11 + sum(expected),
    }
    assert servers._servers["smollm2-135m"].in_flight == 0


def test_llama_server_errors_keep_their_message(servers: LlamaServers):
    request = ChatCompletionRequest.model_validate(
        {"model": "smollm2-135m", "messages": [{"role": "user", "content": "fail"}]}
    )
    with pytest.raises(ApiError) as caught:
        servers.chat_completion(request)
    assert caught.value.status == 400
    assert "the prompt is too long" in caught.value.message
    assert servers._servers["smollm2-135m"].in_flight == 0
