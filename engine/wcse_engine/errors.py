"""OpenAI-shaped errors: every failure answers `{"error": {"message", "type", "param", "code"}}`.

Routes and the job manager raise `ApiError`; request models fail with pydantic's `ValidationError`, which the
handlers below turn into a 400 naming the field (`messages[0].role`, `hyperparameters.n_epochs`) in `param`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


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


def model_not_found(model_id: str) -> ApiError:
    return ApiError(
        404,
        f"The model '{model_id}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def file_not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="file_id", code="file_not_found")


def job_not_found(job_id: str) -> ApiError:
    return ApiError(404, f"Job {job_id} not found", param="fine_tuning_job_id", code="job_not_found")


def field_path(loc: Sequence[int | str]) -> str | None:
    """A pydantic error location as OpenAI names parameters: ("messages", 0, "role") -> "messages[0].role"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or None


def error_response(
    status: int, message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(status_code=status, content=body)


async def on_api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(error.status, error.message, error.type, error.param, error.code)


def describe(problem: Mapping[str, Any]) -> tuple[str | None, str]:
    """One pydantic error as (param, message): `("n", "Input should be greater than or equal to 1")`."""
    message = str(problem["ctx"]["error"]) if problem.get("type") == "value_error" else problem.get("msg", "")
    return field_path(problem.get("loc", ())), message or "malformed"


async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """The first problem, with its field. FastAPI's locations start with where it was (body, query, path)."""
    first = error.errors()[0] if error.errors() else {}
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error", "malformed")
        return error_response(400, f"The request body is not valid JSON: {detail}")
    param, message = describe({**first, "loc": first.get("loc", ())[1:]})
    return error_response(400, f"Invalid '{param}': {message}" if param else f"Invalid request: {message}", param=param)


async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail), code="not_found" if error.status_code == 404 else None)


async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
    return error_response(500, f"{type(error).__name__}: {error}", type_="server_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
