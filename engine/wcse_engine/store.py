"""On-disk state under --state-dir: uploaded files and fine-tuning jobs, as JSON written atomically.

This module holds the files and the helpers both stores use; jobs.py holds the job record and its store.

Layout:
    files/<file-id>.json          OpenAI file object
    files/<file-id>.data          the uploaded bytes
    jobs/<job-id>/job.json        OpenAI fine_tuning.job object (written only by the server)
    jobs/<job-id>/events.jsonl    fine_tuning.job.event objects, appended by server and worker
    jobs/<job-id>/checkpoints/    Trainer checkpoints (the worker resumes from the newest)
    jobs/<job-id>/model/          the finished adapter (LoRA) or full model
    jobs/<job-id>/result.json     written by the worker when training succeeded
    jobs/<job-id>/error.json      written by the worker when training failed
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .errors import file_not_found


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_model_atomic(path: Path, record: BaseModel) -> None:
    write_json_atomic(path, record.model_dump(mode="json"))


def append_event(job_dir: Path, message: str, level: str = "info", data: dict | None = None) -> None:
    """Append one event line; O_APPEND makes concurrent small appends from two processes safe."""
    event = {
        "object": "fine_tuning.job.event",
        "id": new_id("ftevent"),
        "created_at": int(time.time()),
        "level": level,
        "message": message,
        "data": data or {},
        "type": "metrics" if data and "step" in data else "message",
    }
    with open(job_dir / "events.jsonl", "a") as out:
        out.write(json.dumps(event) + "\n")


def read_events(job_dir: Path) -> list[dict]:
    path = job_dir / "events.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash mid-write
            continue
    return events


class FileObject(BaseModel):
    """An uploaded file, as OpenAI describes it (files/<id>.json)."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    status_details: str | None = None


class FileStore:
    def __init__(self, root: Path):
        self.dir = root / "files"
        self.dir.mkdir(parents=True, exist_ok=True)

    def create(self, filename: str, purpose: str, content: bytes) -> FileObject:
        record = FileObject(
            id=new_id("file"), bytes=len(content), created_at=int(time.time()), filename=filename, purpose=purpose
        )
        self.content_path(record.id).write_bytes(content)
        write_model_atomic(self.dir / f"{record.id}.json", record)
        return record

    def get(self, file_id: str) -> FileObject | None:
        path = self.dir / f"{file_id}.json"
        if "/" in file_id or not path.exists():
            return None
        return FileObject.model_validate_json(path.read_text())

    def require(self, file_id: str) -> FileObject:
        record = self.get(file_id)
        if record is None:
            raise file_not_found(file_id)
        return record

    def content_path(self, file_id: str) -> Path:
        return self.dir / f"{file_id}.data"

    def list(self) -> list[FileObject]:
        records = [FileObject.model_validate_json(p.read_text()) for p in self.dir.glob("file-*.json")]
        return sorted(records, key=lambda record: record.created_at, reverse=True)

    def delete(self, file_id: str) -> bool:
        if self.get(file_id) is None:
            return False
        (self.dir / f"{file_id}.json").unlink()
        self.content_path(file_id).unlink(missing_ok=True)
        return True
