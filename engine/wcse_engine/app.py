"""HTTP layer: the subset of the OpenAI API that wcse uses, with OpenAI-shaped errors."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .generation import ChatRequest, Generator, LoadedModel, ModelPool, load_hf_model
from .jobs import JobManager, JobRequestError
from .registry import ModelRegistry, UnknownModelError
from .store import FileStore, JobStore, read_events


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code


def error_response(
    status: int, message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(status_code=status, content=body)


def model_not_found(model_id: str) -> ApiError:
    return ApiError(
        404,
        f"The model '{model_id}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


class Engine:
    """Everything the routes share: state stores, the model registry and pool, the generator and job manager."""

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

    def _load_model(self, model_id: str) -> LoadedModel:
        if model_id in self.registry.specs:
            spec = self.registry.get(model_id)
            return load_hf_model(model_id, self.registry.materialize(model_id), spec.extra_stop_tokens)
        job = self.jobs.find_by_model(model_id)
        if job is None:
            raise UnknownModelError(model_id)
        spec = self.registry.get(job["model"])
        model_dir = self.jobs.job_dir(job["id"]) / "model"
        if job["hyperparameters"]["lora"]:
            return load_hf_model(
                model_id, self.registry.materialize(job["model"]), spec.extra_stop_tokens, adapter_dir=model_dir
            )
        return load_hf_model(model_id, model_dir, spec.extra_stop_tokens)

    def model_objects(self) -> list[dict]:
        now = int(time.time())
        models = [
            {"id": spec.id, "object": "model", "created": now, "owned_by": spec.owned_by}
            for spec in self.registry.specs.values()
        ]
        for job in self.jobs.list():
            if job["status"] == "succeeded" and job["fine_tuned_model"]:
                models.append(
                    {
                        "id": job["fine_tuned_model"],
                        "object": "model",
                        "created": job["finished_at"],
                        "owned_by": "wcse-engine",
                        "parent": job["model"],
                    }
                )
        return models


def parse_chat_request(body: Any) -> ChatRequest:
    """Validate a chat completions body by hand, so every problem names its parameter like OpenAI does."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required and must be a string", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array", param="messages")
    clean_messages = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "developer", "user", "assistant"):
            raise ApiError(
                400,
                f"messages[{index}]: needs a role of system, developer, user or assistant",
                param=f"messages[{index}].role",
            )
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{index}].content must be a string", param=f"messages[{index}].content")
        role = "system" if message["role"] == "developer" else message["role"]
        clean_messages.append({"role": role, "content": content})

    def number(name: str, default: Any, kind: type, low: float, high: float) -> Any:
        value = body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and int(value) != value):
            raise ApiError(400, f"'{name}' must be a {kind.__name__}", param=name)
        if not low <= value <= high:
            raise ApiError(400, f"'{name}' must be between {low} and {high}, got {value}", param=name)
        return kind(value)

    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (
        not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop)
    ):
        raise ApiError(400, "'stop' must be a string or an array of up to 4 non-empty strings", param="stop")
    if body.get("stream"):
        raise ApiError(400, "streaming is not supported by the wcse engine", param="stream")
    # Newer clients send max_completion_tokens; older ones max_tokens.
    limit_name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    return ChatRequest(
        model=model,
        messages=clean_messages,
        n=number("n", 1, int, 1, 128),
        temperature=number("temperature", 1.0, float, 0.0, 2.0),
        top_p=number("top_p", 1.0, float, 0.0, 1.0) or 1.0,
        max_tokens=number(limit_name, 256, int, 1, 32768),
        seed=number("seed", None, int, -(2**63), 2**63 - 1),
        stop=stop or None,
    )


def create_app(engine: Engine) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.job_manager.start()
        yield
        engine.job_manager.stop()

    app = FastAPI(title="wcse engine", lifespan=lifespan)
    app.state.engine = engine

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError):
        return error_response(error.status, error.message, error.type, error.param, error.code)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        return error_response(400, f"Invalid request: {first.get('msg', 'malformed')}", param=param)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException):
        return error_response(
            error.status_code, str(error.detail), code="not_found" if error.status_code == 404 else None
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception):
        return error_response(500, f"{type(error).__name__}: {error}", type_="server_error")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": engine.model_objects()}

    @app.get("/v1/models/{model_id:path}")
    def get_model(model_id: str) -> dict:
        for model in engine.model_objects():
            if model["id"] == model_id:
                return model
        raise model_not_found(model_id)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = await request.json()
        except Exception as error:
            raise ApiError(400, "The request body is not valid JSON") from error
        chat = parse_chat_request(body)
        if not engine.model_exists(chat.model):
            raise model_not_found(chat.model)
        from starlette.concurrency import run_in_threadpool

        # Generation blocks for seconds; a worker thread keeps the event loop (health, job polls) responsive.
        return await run_in_threadpool(engine.generator.chat_completion, chat)

    # -- files ---------------------------------------------------------------------------------------------
    @app.post("/v1/files")
    async def upload_file(file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]):
        if purpose not in ("fine-tune", "batch", "assistants", "user_data", "evals"):
            raise ApiError(400, f"'{purpose}' is not a valid purpose", param="purpose")
        content = await file.read()
        if not content:
            raise ApiError(400, "The uploaded file is empty", param="file")
        return engine.files.create(file.filename or "upload.jsonl", purpose, content)

    @app.get("/v1/files")
    def list_files() -> dict:
        return {"object": "list", "data": engine.files.list(), "has_more": False}

    @app.get("/v1/files/{file_id}")
    def get_file(file_id: str) -> dict:
        record = engine.files.get(file_id)
        if record is None:
            raise ApiError(404, f"No such File object: {file_id}", param="file_id", code="file_not_found")
        return record

    @app.get("/v1/files/{file_id}/content")
    def get_file_content(file_id: str):
        if engine.files.get(file_id) is None:
            raise ApiError(404, f"No such File object: {file_id}", param="file_id", code="file_not_found")
        return FileResponse(engine.files.content_path(file_id), media_type="application/octet-stream")

    @app.delete("/v1/files/{file_id}")
    def delete_file(file_id: str) -> dict:
        if not engine.files.delete(file_id):
            raise ApiError(404, f"No such File object: {file_id}", param="file_id", code="file_not_found")
        return {"id": file_id, "object": "file", "deleted": True}

    # -- fine-tuning jobs ------------------------------------------------------------------------------------
    def job_or_404(job_id: str) -> dict:
        job = engine.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"Job {job_id} not found", param="fine_tuning_job_id", code="job_not_found")
        return job

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request):
        try:
            body = await request.json()
        except Exception as error:
            raise ApiError(400, "The request body is not valid JSON") from error
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")
        try:
            return engine.job_manager.submit(body)
        except JobRequestError as error:
            raise ApiError(error.status, str(error), param=error.param, code=error.code) from error

    @app.get("/v1/fine_tuning/jobs")
    def list_jobs(limit: int = 20, after: str | None = None) -> dict:
        jobs = engine.jobs.list()
        if after:
            ids = [job["id"] for job in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        return {"object": "list", "data": jobs[:limit], "has_more": len(jobs) > limit}

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        return job_or_404(job_id)

    @app.get("/v1/fine_tuning/jobs/{job_id}/events")
    def get_job_events(job_id: str, limit: int = 20, after: str | None = None) -> dict:
        job_or_404(job_id)
        events = list(reversed(read_events(engine.jobs.job_dir(job_id))))  # newest first, as OpenAI lists them
        if after:
            ids = [event["id"] for event in events]
            events = events[ids.index(after) + 1 :] if after in ids else []
        return {"object": "list", "data": events[:limit], "has_more": len(events) > limit}

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict:
        job_or_404(job_id)
        try:
            return engine.job_manager.cancel(job_id)
        except JobRequestError as error:
            raise ApiError(400, str(error), param=error.param) from error

    return app
