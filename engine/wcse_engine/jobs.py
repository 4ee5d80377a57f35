"""Fine-tuning job manager: validates, queues and runs jobs, one at a time, each in a worker subprocess.

The server owns job.json; a worker only writes events, checkpoints, its model and a result/error file. Jobs that
were running when the engine stopped are picked up again at start and their worker resumes from the newest
checkpoint. Only one job trains at a time: on a small machine two would just halve each other's speed.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .registry import ModelRegistry
from .store import FileStore, JobStore, append_event, new_id

ACTIVE_STATUSES = ("validating_files", "queued", "running")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")

DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 4
BASE_LEARNING_RATE = {True: 2e-4, False: 2e-5}  # LoRA, full finetuning


class JobRequestError(ValueError):
    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.status = status
        self.code = code


def _auto(value: Any, default: Any) -> Any:
    return default if value is None or value == "auto" else value


def build_job(body: dict, files: FileStore, registry: ModelRegistry) -> dict:
    """Validate a POST /v1/fine_tuning/jobs body and return the new job object (not yet stored)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise JobRequestError("'model' is required and must be a string", "model")
    if model not in registry.specs:
        raise JobRequestError(
            f"The model '{model}' does not exist or cannot be finetuned", "model", 404, "model_not_found"
        )
    training_file = body.get("training_file")
    if not isinstance(training_file, str) or files.get(training_file) is None:
        raise JobRequestError(
            f"Invalid training_file: {training_file!r} is not an uploaded file",
            "training_file",
            code="invalid_training_file",
        )
    validation_file = body.get("validation_file")
    if validation_file is not None and (not isinstance(validation_file, str) or files.get(validation_file) is None):
        raise JobRequestError(
            f"Invalid validation_file: {validation_file!r} is not an uploaded file",
            "validation_file",
            code="invalid_validation_file",
        )
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64 or ":" in suffix):
        raise JobRequestError("'suffix' must be a string of at most 64 characters without ':'", "suffix")

    method = body.get("method") or {}
    if not isinstance(method, dict):
        raise JobRequestError("'method' must be an object", "method")
    method_type = method.get("type", "supervised")
    if method_type not in ("supervised", "lora", "full"):
        raise JobRequestError(f"method.type {method_type!r} is not supported (supervised, lora or full)", "method.type")
    # LoRA is the default; `lora: false` (top level or in method) or method.type "full" asks for full finetuning.
    lora = method_type != "full"
    for flag in (body.get("lora"), method.get("lora")):
        if isinstance(flag, bool):
            lora = flag
    raw = dict(body.get("hyperparameters") or {})
    raw.update(((method.get("supervised") or {}).get("hyperparameters")) or {})

    try:
        n_epochs = int(_auto(raw.get("n_epochs"), DEFAULT_EPOCHS))
        batch_size = int(_auto(raw.get("batch_size"), DEFAULT_BATCH_SIZE))
        multiplier = float(_auto(raw.get("learning_rate_multiplier"), 1.0))
        learning_rate = float(_auto(raw.get("learning_rate"), BASE_LEARNING_RATE[lora] * multiplier))
        lora_r = int(_auto(raw.get("lora_r"), 8))
        lora_alpha = int(_auto(raw.get("lora_alpha"), 2 * lora_r))
        checkpoint_steps = raw.get("checkpoint_steps")
        checkpoint_steps = None if checkpoint_steps in (None, "auto") else int(checkpoint_steps)
        max_length = int(_auto(raw.get("max_length"), 1024))
    except (TypeError, ValueError) as error:
        raise JobRequestError(f"invalid hyperparameters: {error}", "hyperparameters") from error
    if n_epochs < 1 or batch_size < 1 or learning_rate <= 0 or lora_r < 1 or max_length < 8:
        raise JobRequestError(
            "hyperparameters must be positive (n_epochs, batch_size, learning rate, lora_r)", "hyperparameters"
        )
    hyperparameters = {
        "n_epochs": n_epochs,
        "batch_size": batch_size,
        "learning_rate_multiplier": multiplier,
        "learning_rate": learning_rate,
        "lora": lora,
        "lora_r": lora_r,
        "lora_alpha": lora_alpha,
        "checkpoint_steps": checkpoint_steps,
        "max_length": max_length,
    }
    seed = body.get("seed")
    seed = int(seed) if isinstance(seed, int) else 42
    return {
        "id": new_id("ftjob"),
        "object": "fine_tuning.job",
        "model": model,
        "created_at": int(time.time()),
        "finished_at": None,
        "estimated_finish": None,
        "fine_tuned_model": None,
        "organization_id": "org-wcse-engine",
        "result_files": [],
        "status": "validating_files",
        "error": None,
        "hyperparameters": hyperparameters,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}, "lora": lora},
        "training_file": training_file,
        "validation_file": validation_file,
        "trained_tokens": None,
        "seed": seed,
        "suffix": suffix,
        "integrations": [],
        "metadata": body.get("metadata"),
        "user_provided_suffix": suffix,
    }


def fine_tuned_model_id(job: dict) -> str:
    suffix = job.get("suffix")
    return f"ft:{job['model']}:{suffix}:{job['id']}" if suffix else f"ft:{job['model']}:{job['id']}"


def validate_chat_jsonl(path: Path) -> str | None:
    """Return None if every line is {"messages": [{role, content}, ...]}, else an error naming the line."""
    rows = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                return f"line {number}: not valid JSON ({error.msg})"
            messages = row.get("messages") if isinstance(row, dict) else None
            if not isinstance(messages, list) or not messages:
                return f"line {number}: expected an object with a non-empty 'messages' list"
            for message in messages:
                if (
                    not isinstance(message, dict)
                    or not isinstance(message.get("content"), str)
                    or message.get("role") not in ("system", "user", "assistant", "developer")
                ):
                    return f"line {number}: each message needs a role (system/user/assistant) and string content"
            if not any(m["role"] == "assistant" for m in messages):
                return f"line {number}: no assistant message to learn from"
            rows += 1
    return None if rows else "the file has no examples"


def _die_with_parent() -> None:
    # Runs in the child before exec: if the engine dies (even by SIGKILL), the kernel kills the worker too, so a
    # restarted engine never finds a stray worker still writing the same checkpoints.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class JobManager:
    def __init__(
        self, state_dir: Path, files: FileStore, jobs: JobStore, registry: ModelRegistry, models_file: str | None
    ):
        self.state_dir = state_dir
        self.files = files
        self.jobs = jobs
        self.registry = registry
        self.models_file = models_file
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._current: tuple[str, subprocess.Popen] | None = None
        self._thread = threading.Thread(target=self._run, name="fine-tuning-jobs", daemon=True)

    def start(self) -> None:
        for job in self.jobs.list():
            if job["status"] == "running":
                append_event(self.jobs.job_dir(job["id"]), "Engine restarted; the job resumes from its last checkpoint")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        current = self._current
        if current:
            current[1].terminate()

    def submit(self, body: dict) -> dict:
        job = build_job(body, self.files, self.registry)
        self.jobs.create(job)
        append_event(self.jobs.job_dir(job["id"]), f"Created fine-tuning job: {job['id']}")
        self._wake.set()
        return job

    def cancel(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        cancelled = self.jobs.transition(job_id, ACTIVE_STATUSES, status="cancelled", finished_at=int(time.time()))
        if cancelled is None:
            raise JobRequestError(f"Job {job_id} has already {job['status']}; it cannot be cancelled", "job_id")
        append_event(self.jobs.job_dir(job_id), "Job cancelled")
        current = self._current
        if current and current[0] == job_id:
            current[1].terminate()
        return cancelled

    # -- the worker loop ---------------------------------------------------------------------------------------
    def _next_job(self) -> dict | None:
        active = [job for job in self.jobs.list() if job["status"] in ACTIVE_STATUSES]
        # A job interrupted while running goes first, then the oldest.
        active.sort(key=lambda job: (job["status"] != "running", job["created_at"], job["id"]))
        return active[0] if active else None

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._next_job()
            if job is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            try:
                self._process(job)
            except Exception as error:  # never let one job kill the loop
                self._fail(job["id"], "internal_error", f"{type(error).__name__}: {error}")

    def _fail(self, job_id: str, code: str, message: str, param: str | None = None) -> None:
        failed = self.jobs.transition(
            job_id,
            ACTIVE_STATUSES,
            status="failed",
            finished_at=int(time.time()),
            error={"code": code, "message": message, "param": param},
        )
        if failed is None:  # cancelled meanwhile
            return
        append_event(self.jobs.job_dir(job_id), f"Job failed: {message}", level="error")

    def _process(self, job: dict) -> None:
        job_id = job["id"]
        job_dir = self.jobs.job_dir(job_id)
        if job["status"] == "validating_files":
            for param in ("training_file", "validation_file"):
                file_id = job.get(param)
                if file_id is None:
                    continue
                problem = validate_chat_jsonl(self.files.content_path(file_id))
                if problem:
                    self._fail(job_id, f"invalid_{param}", f"{param} {file_id}: {problem}", param)
                    return
            append_event(job_dir, "Files validated")
            if self.jobs.transition(job_id, ("validating_files",), status="queued") is None:
                return  # cancelled meanwhile
            append_event(job_dir, "Job enqueued")
        base_path = self.registry.materialize(job["model"])
        if self.jobs.transition(job_id, ("queued", "running"), status="running") is None:
            return
        if job["status"] != "running":
            append_event(job_dir, "Fine-tuning job started")
        result_path, error_path = job_dir / "result.json", job_dir / "error.json"
        if result_path.exists() and (job_dir / "model").exists():
            # The worker finished but the engine stopped before recording it: just record it now.
            self._finish(job, result_path)
            return
        result_path.unlink(missing_ok=True)
        error_path.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "wcse_engine.finetune_worker",
            "--job-dir",
            str(job_dir),
            "--base-model-path",
            str(base_path),
            "--training-file",
            str(self.files.content_path(job["training_file"])),
        ]
        if job.get("validation_file"):
            command += ["--validation-file", str(self.files.content_path(job["validation_file"]))]
        log = open(job_dir / "worker.log", "ab")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        self._current = (job_id, process)
        if self.jobs.get(job_id)["status"] == "cancelled":  # cancelled between the check above and the spawn
            process.terminate()
        try:
            return_code = process.wait()
        finally:
            self._current = None
            log.close()
        if self._stop.is_set() or self.jobs.get(job_id)["status"] == "cancelled":
            return  # shutting down (the job stays 'running' and resumes next start) or cancelled
        if return_code == 0 and result_path.exists():
            self._finish(job, result_path)
        elif error_path.exists():
            error = json.loads(error_path.read_text())
            self._fail(job_id, error.get("code", "training_failed"), error.get("message", "training failed"))
        else:
            tail = (job_dir / "worker.log").read_text(errors="replace")[-800:]
            self._fail(job_id, "training_failed", f"worker exited with code {return_code}: {tail}")

    def _finish(self, job: dict, result_path: Path) -> None:
        result = json.loads(result_path.read_text())
        model_id = fine_tuned_model_id(job)
        finished = self.jobs.transition(
            job["id"],
            ("running",),
            status="succeeded",
            finished_at=int(time.time()),
            fine_tuned_model=model_id,
            trained_tokens=result["trained_tokens"],
        )
        if finished is not None:
            job_dir = self.jobs.job_dir(job["id"])
            append_event(job_dir, f"New fine-tuned model created: {model_id}")
            append_event(job_dir, "The job has successfully completed")
