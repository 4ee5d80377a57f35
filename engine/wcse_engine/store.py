"""On-disk state under --state-dir: uploaded files and fine-tuning jobs, as JSON written atomically.

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
import threading
import time
from pathlib import Path
from typing import Any


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


class FileStore:
    def __init__(self, root: Path):
        self.dir = root / "files"
        self.dir.mkdir(parents=True, exist_ok=True)

    def create(self, filename: str, purpose: str, content: bytes) -> dict:
        file_id = new_id("file")
        data_path = self.dir / f"{file_id}.data"
        data_path.write_bytes(content)
        record = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        write_json_atomic(self.dir / f"{file_id}.json", record)
        return record

    def get(self, file_id: str) -> dict | None:
        path = self.dir / f"{file_id}.json"
        if "/" in file_id or not path.exists():
            return None
        return json.loads(path.read_text())

    def content_path(self, file_id: str) -> Path:
        return self.dir / f"{file_id}.data"

    def list(self) -> list[dict]:
        records = [json.loads(p.read_text()) for p in self.dir.glob("file-*.json")]
        return sorted(records, key=lambda r: r["created_at"], reverse=True)

    def delete(self, file_id: str) -> bool:
        if self.get(file_id) is None:
            return False
        (self.dir / f"{file_id}.json").unlink()
        self.content_path(file_id).unlink(missing_ok=True)
        return True


class JobStore:
    """Job objects; the server process is their only writer (the worker reports through result/error files)."""

    def __init__(self, root: Path):
        self.dir = root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def job_dir(self, job_id: str) -> Path:
        return self.dir / job_id

    def create(self, job: dict) -> dict:
        with self._lock:
            write_json_atomic(self.job_dir(job["id"]) / "job.json", job)
        return job

    def get(self, job_id: str) -> dict | None:
        path = self.job_dir(job_id) / "job.json"
        if "/" in job_id or not path.exists():
            return None
        return json.loads(path.read_text())

    def transition(self, job_id: str, allowed_from: tuple[str, ...], **changes: Any) -> dict | None:
        """Update only if the job is still in one of `allowed_from`: a cancel that came first wins the race."""
        with self._lock:
            job = self.get(job_id)
            if job is None or job["status"] not in allowed_from:
                return None
            job.update(changes)
            write_json_atomic(self.job_dir(job_id) / "job.json", job)
            return job

    def list(self) -> list[dict]:
        jobs = [json.loads(p.read_text()) for p in self.dir.glob("*/job.json")]
        return sorted(jobs, key=lambda j: (j["created_at"], j["id"]), reverse=True)

    def find_by_model(self, fine_tuned_model: str) -> dict | None:
        for job in self.list():
            if job.get("fine_tuned_model") == fine_tuned_model and job["status"] == "succeeded":
                return job
        return None
