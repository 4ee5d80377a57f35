"""Fine-tuning jobs: the job record (FineTuningJob, jobs/<id>/job.json), its store, and the manager that
validates, queues and runs jobs, one at a time, each in a worker subprocess.

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
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_serializer

from .errors import ApiError, describe, job_not_found
from .registry import ModelRegistry
from .schemas import FineTuningJobCreate, TrainingExample
from .store import FileStore, append_event, new_id, write_model_atomic

JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE_STATUSES: tuple[JobStatus, ...] = ("validating_files", "queued", "running")

DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 4
DEFAULT_LORA_R = 8
DEFAULT_MAX_LENGTH = 1024
DEFAULT_SEED = 42
BASE_LEARNING_RATE = {True: 2e-4, False: 2e-5}  # LoRA, full finetuning


class JobHyperparameters(BaseModel):
    """The resolved hyperparameters a job trains with: every "auto" replaced by the engine's choice."""

    n_epochs: int
    n_steps: int | None = None  # exactly this many optimizer steps (cycling the data); None: n_epochs decides
    batch_size: int
    learning_rate_multiplier: float
    learning_rate: float
    lora: bool
    lora_r: int
    lora_alpha: int
    checkpoint_steps: int | None = None  # None: about ten checkpoints per job
    n_checkpoints: int | None = None  # servable snapshots at evenly spaced steps (the last one: the final model)
    max_length: int = DEFAULT_MAX_LENGTH

    @model_serializer(mode="wrap")
    def _omit_unset_extensions(self, handler):
        # n_steps and n_checkpoints came after the first job records: written only when set, so a record
        # written before them reads back and writes back byte for byte (and serves the same JSON).
        data = handler(self)
        for key in ("n_steps", "n_checkpoints"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class SupervisedJobMethod(BaseModel):
    hyperparameters: JobHyperparameters


class JobMethod(BaseModel):
    type: Literal["supervised"] = "supervised"
    supervised: SupervisedJobMethod
    lora: bool


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    """A fine_tuning.job object as OpenAI returns it, and as jobs/<id>/job.json stores it.

    Loads every job.json the engine has written; `metadata` stays as loose as the engine once accepted it.
    """

    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    model: str
    created_at: int
    finished_at: int | None = None
    estimated_finish: int | None = None
    fine_tuned_model: str | None = None
    organization_id: str = "org-wcse-engine"
    result_files: list[str] = Field(default_factory=list)
    status: JobStatus
    error: JobError | None = None
    hyperparameters: JobHyperparameters
    method: JobMethod
    training_file: str
    validation_file: str | None = None
    trained_tokens: int | None = None
    seed: int = DEFAULT_SEED
    suffix: str | None = None
    integrations: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    user_provided_suffix: str | None = None

    @property
    def fine_tuned_model_id(self) -> str:
        """The id the finished model is served under: ft:<base>[:<suffix>]:<job-id>."""
        return f"ft:{self.model}:{self.suffix}:{self.id}" if self.suffix else f"ft:{self.model}:{self.id}"


def resolve_hyperparameters(request: FineTuningJobCreate) -> JobHyperparameters:
    """Fill in the engine's defaults. Values left out or "auto" arrive as None; the rest are already positive."""
    asked = request.merged_hyperparameters()
    lora = request.uses_lora()
    multiplier = asked.learning_rate_multiplier or 1.0
    lora_r = asked.lora_r or DEFAULT_LORA_R
    return JobHyperparameters(
        n_epochs=asked.n_epochs or DEFAULT_EPOCHS,
        n_steps=asked.n_steps,
        batch_size=asked.batch_size or DEFAULT_BATCH_SIZE,
        learning_rate_multiplier=multiplier,
        learning_rate=asked.learning_rate or BASE_LEARNING_RATE[lora] * multiplier,
        lora=lora,
        lora_r=lora_r,
        lora_alpha=asked.lora_alpha or 2 * lora_r,
        checkpoint_steps=asked.checkpoint_steps,
        n_checkpoints=asked.n_checkpoints,
        max_length=asked.max_length or DEFAULT_MAX_LENGTH,
    )


def build_job(
    request: FineTuningJobCreate, files: FileStore, registry: ModelRegistry, jobs: JobStore | None = None
) -> FineTuningJob:
    """Check a job request against the registry and the uploaded files; return the new job (not yet stored).

    The model is a base model of the registry or (given the job store) a LoRA fine-tune of one: the new job then
    trains a further adapter on top of it (see `adapter_chain`)."""
    if request.model not in registry.specs and (jobs is None or adapter_chain(request.model, registry, jobs) is None):
        raise ApiError(
            404,
            f"The model '{request.model}' does not exist or cannot be finetuned",
            param="model",
            code="model_not_found",
        )
    for param in ("training_file", "validation_file"):
        file_id = getattr(request, param)
        if file_id is not None and files.get(file_id) is None:
            raise ApiError(
                400, f"Invalid {param}: {file_id!r} is not an uploaded file", param=param, code=f"invalid_{param}"
            )
    hyperparameters = resolve_hyperparameters(request)
    return FineTuningJob(
        id=new_id("ftjob"),
        model=request.model,
        created_at=int(time.time()),
        status="validating_files",
        hyperparameters=hyperparameters,
        method=JobMethod(supervised=SupervisedJobMethod(hyperparameters=hyperparameters), lora=hyperparameters.lora),
        training_file=request.training_file,
        validation_file=request.validation_file,
        seed=request.seed if request.seed is not None else DEFAULT_SEED,
        suffix=request.suffix,
        metadata=request.metadata,
        user_provided_suffix=request.suffix,
    )


def validate_chat_jsonl(path: Path) -> str | None:
    """Return None if every line is a TrainingExample, else an error naming the line (and the field)."""
    rows = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                TrainingExample.model_validate_json(line)
            except ValidationError as error:
                problem = error.errors()[0]
                if problem["type"] == "json_invalid":
                    return f"line {number}: not valid JSON ({problem.get('ctx', {}).get('error', 'malformed')})"
                field, message = describe(problem)
                return f"line {number}: {field}: {message}" if field else f"line {number}: {message}"
            rows += 1
    return None if rows else "the file has no examples"


class JobStore:
    """Job records (jobs/<id>/job.json); the server process is their only writer (the worker reports through
    result/error files)."""

    def __init__(self, root: Path):
        self.dir = root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def job_dir(self, job_id: str) -> Path:
        return self.dir / job_id

    def create(self, job: FineTuningJob) -> FineTuningJob:
        with self._lock:
            write_model_atomic(self.job_dir(job.id) / "job.json", job)
        return job

    def get(self, job_id: str) -> FineTuningJob | None:
        path = self.job_dir(job_id) / "job.json"
        if "/" in job_id or not path.exists():
            return None
        return read_job(path)

    def require(self, job_id: str) -> FineTuningJob:
        job = self.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        return job

    def transition(self, job_id: str, allowed_from: tuple[JobStatus, ...], **changes: Any) -> FineTuningJob | None:
        """Update only if the job is still in one of `allowed_from`: a cancel that came first wins the race."""
        with self._lock:
            job = self.get(job_id)
            if job is None or job.status not in allowed_from:
                return None
            job = FineTuningJob.model_validate({**job.model_dump(), **changes})
            write_model_atomic(self.job_dir(job_id) / "job.json", job)
            return job

    def list(self) -> list[FineTuningJob]:
        jobs = [read_job(path) for path in self.dir.glob("*/job.json")]
        return sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)

    def checkpoints(self, job: FineTuningJob) -> list[dict[str, Any]]:
        """The job's servable checkpoints as OpenAI's fine_tuning.job.checkpoint objects, newest step first."""
        served = self.job_dir(job.id) / SERVED_DIR
        found = []
        for path in served.glob("step-*/checkpoint.json") if served.exists() else []:
            info = json.loads(path.read_text())
            step = int(info["step"])
            found.append(
                {
                    "object": "fine_tuning.job.checkpoint",
                    "id": f"ftckpt-{job.id.removeprefix('ftjob-')}-{step}",
                    "created_at": info["created_at"],
                    "fine_tuned_model_checkpoint": checkpoint_model_id(job, step),
                    "fine_tuning_job_id": job.id,
                    "step_number": step,
                    "metrics": info.get("metrics", {}),
                }
            )
        return sorted(found, key=lambda checkpoint: checkpoint["step_number"], reverse=True)

    def find_checkpoint(self, model_id: str) -> tuple[FineTuningJob, Path] | None:
        """A checkpoint model id (<fine_tuned_model>:ckpt-step-<N>) -> its succeeded job and snapshot directory."""
        head, separator, step = model_id.rpartition(":ckpt-step-")
        if not separator or not step.isdigit():
            return None
        job = self.find_by_model(head)
        if job is None:
            return None
        directory = self.job_dir(job.id) / SERVED_DIR / f"step-{int(step)}"
        return (job, directory) if (directory / "checkpoint.json").exists() else None

    def find_by_model(self, fine_tuned_model: str) -> FineTuningJob | None:
        for job in self.list():
            if job.fine_tuned_model == fine_tuned_model and job.status == "succeeded":
                return job
        return None


SERVED_DIR = "served-checkpoints"


def adapter_chain(
    model_id: str, registry: ModelRegistry, jobs: JobStore
) -> tuple[str, list[tuple[FineTuningJob, Path]]] | None:
    """A model id -> (its base model in the registry, the LoRA adapters on top of it, oldest first), or None.

    A base model has no adapters. A LoRA fine-tune (`ft:...`, or one of its checkpoints `...:ckpt-step-<N>`) is
    its job's model plus the job's adapter directory: a job may train on a fine-tuned model (say, a warm-up stage's
    model), whose adapters the worker merges into the base before training the new one. The weights are then the
    base plus the sum of the chain's adapters, so the chain is served as the base GGUF with every adapter applied.
    A full fine-tune, or a chain deeper than 8, is None (not supported).
    """
    chain: list[tuple[FineTuningJob, Path]] = []
    current = model_id
    while current not in registry.specs:
        if len(chain) >= 8:
            return None
        job = jobs.find_by_model(current)
        if job is not None:
            directory = jobs.job_dir(job.id) / "model"
        else:
            checkpoint = jobs.find_checkpoint(current)
            if checkpoint is None:
                return None
            job, directory = checkpoint
        if not job.hyperparameters.lora:
            return None
        chain.insert(0, (job, directory))
        current = job.model
    return current, chain


def checkpoint_model_id(job: FineTuningJob, step: int) -> str:
    """OpenAI's shape: the job's fine-tuned model id, then :ckpt-step-<N>."""
    return f"{job.fine_tuned_model_id}:ckpt-step-{step}"


def read_job(path: Path) -> FineTuningJob:
    return FineTuningJob.model_validate_json(path.read_text())


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
            if job.status == "running":
                append_event(self.jobs.job_dir(job.id), "Engine restarted; the job resumes from its last checkpoint")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        current = self._current
        if current:
            current[1].terminate()

    def submit(self, request: FineTuningJobCreate) -> FineTuningJob:
        job = build_job(request, self.files, self.registry, self.jobs)
        self.jobs.create(job)
        append_event(self.jobs.job_dir(job.id), f"Created fine-tuning job: {job.id}")
        self._wake.set()
        return job

    def cancel(self, job_id: str) -> FineTuningJob:
        job = self.jobs.require(job_id)
        cancelled = self.jobs.transition(job_id, ACTIVE_STATUSES, status="cancelled", finished_at=int(time.time()))
        if cancelled is None:
            raise ApiError(400, f"Job {job_id} has already {job.status}; it cannot be cancelled", param="job_id")
        append_event(self.jobs.job_dir(job_id), "Job cancelled")
        current = self._current
        if current and current[0] == job_id:
            current[1].terminate()
        return cancelled

    # -- the worker loop ---------------------------------------------------------------------------------------
    def _next_job(self) -> FineTuningJob | None:
        active = [job for job in self.jobs.list() if job.status in ACTIVE_STATUSES]
        # A job interrupted while running goes first, then the oldest.
        active.sort(key=lambda job: (job.status != "running", job.created_at, job.id))
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
                self._fail(job.id, "internal_error", f"{type(error).__name__}: {error}")

    def _fail(self, job_id: str, code: str, message: str, param: str | None = None) -> None:
        failed = self.jobs.transition(
            job_id,
            ACTIVE_STATUSES,
            status="failed",
            finished_at=int(time.time()),
            error=JobError(code=code, message=message, param=param),
        )
        if failed is None:  # cancelled meanwhile
            return
        append_event(self.jobs.job_dir(job_id), f"Job failed: {message}", level="error")

    def _process(self, job: FineTuningJob) -> None:
        job_id = job.id
        job_dir = self.jobs.job_dir(job_id)
        if job.status == "validating_files":
            for param in ("training_file", "validation_file"):
                file_id = getattr(job, param)
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
        chain = adapter_chain(job.model, self.registry, self.jobs)
        if chain is None:
            self._fail(job_id, "model_not_found", f"The model '{job.model}' can no longer be finetuned", "model")
            return
        base_path = self.registry.materialize(chain[0])
        if self.jobs.transition(job_id, ("queued", "running"), status="running") is None:
            return
        if job.status != "running":
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
            str(self.files.content_path(job.training_file)),
        ]
        if job.validation_file:
            command += ["--validation-file", str(self.files.content_path(job.validation_file))]
        for _, adapter_dir in chain[1]:
            command += ["--merge-adapter", str(adapter_dir)]
        log = open(job_dir / "worker.log", "ab")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        self._current = (job_id, process)
        if self._status(job_id) == "cancelled":  # cancelled between the check above and the spawn
            process.terminate()
        try:
            return_code = process.wait()
        finally:
            self._current = None
            log.close()
        if self._stop.is_set() or self._status(job_id) == "cancelled":
            return  # shutting down (the job stays 'running' and resumes next start) or cancelled
        if return_code == 0 and result_path.exists():
            self._finish(job, result_path)
        elif error_path.exists():
            error = json.loads(error_path.read_text())
            self._fail(job_id, error.get("code", "training_failed"), error.get("message", "training failed"))
        else:
            tail = (job_dir / "worker.log").read_text(errors="replace")[-800:]
            self._fail(job_id, "training_failed", f"worker exited with code {return_code}: {tail}")

    def _status(self, job_id: str) -> JobStatus | None:
        job = self.jobs.get(job_id)
        return job.status if job else None

    def _finish(self, job: FineTuningJob, result_path: Path) -> None:
        result = json.loads(result_path.read_text())
        model_id = job.fine_tuned_model_id
        finished = self.jobs.transition(
            job.id,
            ("running",),
            status="succeeded",
            finished_at=int(time.time()),
            fine_tuned_model=model_id,
            trained_tokens=result["trained_tokens"],
        )
        if finished is not None:
            job_dir = self.jobs.job_dir(job.id)
            append_event(job_dir, f"New fine-tuned model created: {model_id}")
            append_event(job_dir, "The job has successfully completed")
