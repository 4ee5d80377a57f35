"""What the routers share: the stores, the model registry and pool, the generator and the job manager.

create_app puts one Engine on `app.state.engine`; a route asks for it with an `EngineDep` parameter.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from .errors import model_not_found
from .generation import Generator, LoadedModel, ModelPool, load_hf_model
from .jobs import FineTuningJob, JobManager, JobStore
from .registry import ModelRegistry, UnknownModelError
from .store import FileStore


class Engine:
    def __init__(self, state_dir: Path, registry: ModelRegistry, models_file: str | None = None):
        self.state_dir = state_dir
        self.registry = registry
        self.files = FileStore(state_dir)
        self.jobs = JobStore(state_dir)
        self.pool = ModelPool(self._load_model)
        self.generator = Generator(self.pool)
        self.job_manager = JobManager(state_dir, self.files, self.jobs, registry, models_file)

    def model_exists(self, model_id: str) -> bool:
        return model_id in self.registry.specs or self.jobs.find_by_model(model_id) is not None

    def require_model(self, model_id: str) -> None:
        if not self.model_exists(model_id):
            raise model_not_found(model_id)

    def _load_model(self, model_id: str) -> LoadedModel:
        if model_id in self.registry.specs:
            spec = self.registry.get(model_id)
            return load_hf_model(model_id, self.registry.materialize(model_id), spec.extra_stop_tokens)
        job = self.jobs.find_by_model(model_id)
        if job is None:
            raise UnknownModelError(model_id)
        spec = self.registry.get(job.model)
        model_dir = self.jobs.job_dir(job.id) / "model"
        if job.hyperparameters.lora:
            return load_hf_model(
                model_id, self.registry.materialize(job.model), spec.extra_stop_tokens, adapter_dir=model_dir
            )
        return load_hf_model(model_id, model_dir, spec.extra_stop_tokens)

    def model_objects(self) -> list[dict[str, Any]]:
        """Registry models, then every succeeded job's fine-tuned model (with its base as `parent`)."""
        now = int(time.time())
        models = [
            {"id": spec.id, "object": "model", "created": now, "owned_by": spec.owned_by}
            for spec in self.registry.specs.values()
        ]
        models += [
            fine_tuned_model_object(job)
            for job in self.jobs.list()
            if job.status == "succeeded" and job.fine_tuned_model
        ]
        return models


def fine_tuned_model_object(job: FineTuningJob) -> dict[str, Any]:
    return {
        "id": job.fine_tuned_model,
        "object": "model",
        "created": job.finished_at,
        "owned_by": "wcse-engine",
        "parent": job.model,
    }


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]
