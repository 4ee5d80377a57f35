"""Measures a warm-up design on a running engine: finetune each model on warm-up problems' reference solutions,
then sample the study's problems from the warmed-up (and optionally base) models and print per-sample accuracy
per level. Used to choose the quickstart's warm-up (examples/quickstart.yaml); prints the wall time of each part.

  engine/.venv/bin/python engine/scripts/warmup_probe.py --url http://127.0.0.1:8011/v1 \
      --warmup data/arithmetic_warmup.jsonl --study data/arithmetic_test.jsonl --examples 400 --steps 60 \
      --batch-size 8 --lr 1e-3 --questions 40 --samples 2
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx

SYSTEM = 'Solve the math problem step by step. End with "The answer is N." where N is a number.'


def reference_text(answer: str) -> str:
    """A GSM8K-style solution ("...\\n#### N") as one answer in the prompt's format: "... The answer is N."."""
    body, _, final = answer.rpartition("####")
    body = re.sub(r"<<[^>]*>>", "", body).strip().replace("\n", " ")
    return f"{body} The answer is {final.strip()}."


def gold_of(answer: str) -> str:
    return answer.rpartition("####")[2].strip().replace(",", "")


def extracted(text: str) -> str | None:
    found = re.findall(r"[Tt]he answer is\s*\$?(-?[\d,]*\.?\d+)", text)
    return found[-1].replace(",", "") if found else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8011/v1")
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--warmup", default="data/arithmetic_warmup.jsonl")
    parser.add_argument("--study", default="data/arithmetic_test.jsonl")
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--base", action="store_true", help="also sample the base models")
    parser.add_argument("--served", default="", help="comma-separated warmed-up model ids to reuse (no training)")
    parser.add_argument("--shots", type=int, default=0, help="few-shot exemplars (warm-up problems) in the prompt")
    parser.add_argument("--no-train", action="store_true", help="sample only (with --base or --served)")
    args = parser.parse_args()
    client = httpx.Client(base_url=args.url, timeout=3600)
    models = args.models.split(",")

    served = [m for m in args.served.split(",") if m]
    shots = [json.loads(line) for line in open(args.warmup) if line.strip()][-args.shots :] if args.shots else []
    few_shot = []
    for row in shots:
        few_shot += [
            {"role": "user", "content": row["question"]},
            {"role": "assistant", "content": reference_text(row["answer"])},
        ]
    if not served and not args.no_train:
        rows = [json.loads(line) for line in open(args.warmup) if line.strip()][: args.examples]
        body = "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": row["question"]},
                        {"role": "assistant", "content": reference_text(row["answer"])},
                    ]
                }
            )
            + "\n"
            for row in rows
        )
        file_id = client.post("/files", data={"purpose": "fine-tune"}, files={"file": ("w.jsonl", body)}).json()["id"]
        for model in models:
            started = time.time()
            job = client.post(
                "/fine_tuning/jobs",
                json={
                    "model": model,
                    "training_file": file_id,
                    "suffix": "warmup",
                    "hyperparameters": {"n_steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.lr},
                },
            ).json()
            if "id" not in job:
                raise SystemExit(f"job refused: {job}")
            while job["status"] not in ("succeeded", "failed", "cancelled"):
                time.sleep(3)
                job = client.get(f"/fine_tuning/jobs/{job['id']}").json()
            elapsed = time.time() - started
            outcome = f"{job['status']} in {elapsed:.0f}s -> {job.get('fine_tuned_model')} {job.get('error') or ''}"
            print(f"warm-up {model}: {outcome}", flush=True)
            served.append(job["fine_tuned_model"])

    study = [json.loads(line) for line in open(args.study) if line.strip()][: args.questions]
    targets = (models if args.base else []) + served
    for model in targets:
        started = time.time()

        def ask(row, model=model):
            reply = client.post(
                "/chat/completions",
                json={
                    "model": model,
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        *few_shot,
                        {"role": "user", "content": row["question"]},
                    ],
                    "n": args.samples,
                    "temperature": args.temperature,
                    "top_p": 0.95,
                    "max_tokens": args.max_tokens,
                    "stop": ["\n\n"],
                },
            ).json()
            return row, [choice["message"]["content"] for choice in reply["choices"]]

        by_level: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        example = None
        with ThreadPoolExecutor(4) as pool:
            for row, texts in pool.map(ask, study):
                for text in texts:
                    ok = extracted(text) == gold_of(row["answer"])
                    by_level[row["level"]][0] += ok
                    by_level[row["level"]][1] += 1
                    example = example or text
        right = sum(v[0] for v in by_level.values())
        total = sum(v[1] for v in by_level.values())
        levels = " ".join(f"L{level}={v[0]}/{v[1]}" for level, v in sorted(by_level.items()))
        print(
            f"{model}: {right}/{total} = {100 * right / total:.1f}% ({levels}) in {time.time() - started:.0f}s",
            flush=True,
        )
        print(f"  e.g. {example!r}", flush=True)


if __name__ == "__main__":
    main()
