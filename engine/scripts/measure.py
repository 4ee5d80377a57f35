"""Rough engine measurements on this machine: generation tokens/s for n=1 vs n=4, and a small LoRA job.

    .venv/bin/python scripts/measure.py [--model smollm2-135m] [--port 8019]

Starts its own engine on a scratch state dir and talks to it over HTTP, as wcse does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import EngineProcess, upload_jsonl, wait_for_job  # noqa: E402

QUESTION = [
    {
        "role": "user",
        "content": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
        "many clips in May. How many clips did Natalia sell altogether in April and May? Think step by step.",
    }
]


def post(client: httpx.Client, path: str, body: dict) -> dict:
    """POST a JSON body; an engine error stops the measurement with the engine's own message."""
    response = client.post(path, json=body)
    if response.status_code != 200:
        raise SystemExit(f"POST {path} failed with {response.status_code}: {response.text}")
    return response.json()


def measure_generation(client: httpx.Client, model: str, max_tokens: int) -> None:
    post(client, "/v1/chat/completions", {"model": model, "messages": QUESTION, "max_tokens": 4})  # load it
    for n in (1, 4, 8):
        started = time.time()
        request = {"model": model, "messages": QUESTION, "n": n, "max_tokens": max_tokens, "temperature": 0.8}
        body = post(client, "/v1/chat/completions", {**request, "seed": 1})
        seconds = time.time() - started
        tokens = body["usage"]["completion_tokens"]
        print(
            f"generate {model} n={n}: {tokens} completion tokens in {seconds:.1f}s = {tokens / seconds:.1f} tokens/s",
            flush=True,
        )


def measure_finetune(client: httpx.Client, model: str) -> None:
    answer = "In April she sold 48 clips. In May she sold 48 / 2 = 24 clips. Altogether 72 clips. The answer is 72."
    rows = [{"messages": [*QUESTION, {"role": "assistant", "content": f"{answer} ({i})"}]} for i in range(16)]
    file_id = upload_jsonl(client, rows)
    started = time.time()
    hyperparameters = {"n_epochs": 1, "batch_size": 4}
    job = post(
        client, "/v1/fine_tuning/jobs", {"model": model, "training_file": file_id, "hyperparameters": hyperparameters}
    )
    job = wait_for_job(client, job["id"], timeout=1800)
    print(
        f"finetune {model} LoRA, 16 examples x 1 epoch, batch 4: {job['status']} in "
        f"{time.time() - started:.1f}s, trained_tokens={job['trained_tokens']}",
        flush=True,
    )
    events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    print(json.dumps([e["message"] for e in reversed(events)], indent=0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--skip-finetune", action="store_true")
    args = parser.parse_args()
    engine = EngineProcess(Path(tempfile.mkdtemp()) / "state").start()
    try:
        with engine.client(timeout=1800) as client:
            measure_generation(client, args.model, args.max_tokens)
            if not args.skip_finetune:
                measure_finetune(client, args.model)
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
