"""POST/GET/DELETE /v1/files: uploaded training and validation files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import FileResponse

from ..engine import EngineDep
from ..errors import ApiError
from ..schemas import FileUpload
from ..store import FileObject

router = APIRouter(prefix="/v1/files", tags=["files"])


def file_or_404(file_id: str, engine: EngineDep) -> FileObject:
    return engine.files.require(file_id)


FileDep = Annotated[FileObject, Depends(file_or_404)]


@router.post("")
async def upload_file(form: Annotated[FileUpload, Form()], engine: EngineDep) -> FileObject:
    content = await form.file.read()
    if not content:
        raise ApiError(400, "The uploaded file is empty", param="file")
    return engine.files.create(form.file.filename or "upload.jsonl", form.purpose, content)


@router.get("")
def list_files(engine: EngineDep) -> dict[str, Any]:
    return {"object": "list", "data": engine.files.list(), "has_more": False}


@router.get("/{file_id}")
def get_file(record: FileDep) -> FileObject:
    return record


@router.get("/{file_id}/content")
def get_file_content(record: FileDep, engine: EngineDep) -> FileResponse:
    return FileResponse(engine.files.content_path(record.id), media_type="application/octet-stream")


@router.delete("/{file_id}")
def delete_file(record: FileDep, engine: EngineDep) -> dict[str, Any]:
    engine.files.delete(record.id)
    return {"id": record.id, "object": "file", "deleted": True}
