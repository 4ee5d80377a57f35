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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import EngineProcess, upload_jsonl, wait_for_job  # noqa: E402

QUESTION = [
    {
        "role": "user",
        "content": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
        "many clips in May. How many clips did Natalia sell altogether in April and May? Think step by step.",
    }
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--skip-finetune", action="store_true")
    args = parser.parse_args()
    engine = EngineProcess(Path(tempfile.mkdtemp()) / "state").start()
    try:
        with engine.client(timeout=1800) as client:
            client.post("/v1/chat/completions", json={"model": args.model, "messages": QUESTION, "max_tokens": 4})
            for n in (1, 4, 8):
                started = time.time()
                body = client.post(
                    "/v1/chat/completions",
                    json={
                        "model": args.model,
                        "messages": QUESTION,
                        "n": n,
                        "max_tokens": args.max_tokens,
                        "temperature": 0.8,
                        "seed": 1,
                    },
                ).json()
                seconds = time.time() - started
                tokens = body["usage"]["completion_tokens"]
                print(
                    f"generate {args.model} n={n}: {tokens} completion tokens in {seconds:.1f}s = "
                    f"{tokens / seconds:.1f} tokens/s",
                    flush=True,
                )
            if args.skip_finetune:
                return
            rows = [
                {
                    "messages": QUESTION[:1]
                    + [
                        {
                            "role": "assistant",
                            "content": "In April she sold 48 clips. In "
                            f"May she sold 48 / 2 = 24 clips. Altogether {48 + 24} clips. The answer is 72. ({i})",
                        }
                    ]
                }
                for i in range(16)
            ]
            file_id = upload_jsonl(client, rows)
            started = time.time()
            job = client.post(
                "/v1/fine_tuning/jobs",
                json={
                    "model": args.model,
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 1, "batch_size": 4},
                },
            ).json()
            job = wait_for_job(client, job["id"], timeout=1800)
            print(
                f"finetune {args.model} LoRA, 16 examples x 1 epoch, batch 4: {job['status']} in "
                f"{time.time() - started:.1f}s, trained_tokens={job['trained_tokens']}",
                flush=True,
            )
            events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
            print(json.dumps([e["message"] for e in reversed(events)], indent=0))
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
