"""Fine-tuning jobs end to end: upload, train in a subprocess, serve the result under its fine_tuned_model id."""

from __future__ import annotations

import time

from conftest import upload_jsonl, wait_for_job

TRAINING_ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + {b}?"},
            {"role": "assistant", "content": f"The answer is {a + b}."},
        ]
    }
    for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]
]


def greedy(client, model: str, prompt: str) -> str:
    response = client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": 16},
    )
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_fine_tuning_job_produces_a_served_model_that_learned(client):
    file_id = upload_jsonl(client, TRAINING_ROWS)
    assert client.get(f"/v1/files/{file_id}").json()["purpose"] == "fine-tune"
    assert client.get(f"/v1/files/{file_id}/content").text.count("\n") == len(TRAINING_ROWS)

    started = time.time()
    response = client.post(
        "/v1/fine_tuning/jobs",
        json={
            "model": "tiny-random",
            "training_file": file_id,
            "suffix": "adder",
            "hyperparameters": {"n_epochs": 8, "batch_size": 2, "learning_rate": 1e-2},
        },
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["object"] == "fine_tuning.job"
    assert job["status"] in ("validating_files", "queued", "running")
    assert job["hyperparameters"]["n_epochs"] == 8 and job["hyperparameters"]["lora"] is True

    job = wait_for_job(client, job["id"])
    assert job["status"] == "succeeded", job
    print(f"tiny-random LoRA job wall time: {time.time() - started:.1f}s")
    assert job["fine_tuned_model"] == f"ft:tiny-random:adder:{job['id']}"
    assert job["trained_tokens"] > 0 and job["finished_at"] >= job["created_at"]

    events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    losses = [e["data"]["train_loss"] for e in reversed(events) if "train_loss" in e["data"]]
    assert len(losses) == 16  # 4 rows / batch 2 x 8 epochs, one loss event per step
    assert losses[-1] < losses[0]

    listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert job["fine_tuned_model"] in listed
    jobs = client.get("/v1/fine_tuning/jobs").json()["data"]
    assert job["id"] in [j["id"] for j in jobs]

    # The gradient really moved: on the training prompts the finetuned model answers differently from its base.
    prompt = TRAINING_ROWS[0]["messages"][0]["content"]
    base_answer = greedy(client, "tiny-random", prompt)
    tuned_answer = greedy(client, job["fine_tuned_model"], prompt)
    assert tuned_answer != base_answer
    assert tuned_answer.startswith("The ")  # the learned answer prefix, from a model that began as noise


def test_invalid_training_file_fails_the_job(client):
    file_id = upload_jsonl(client, [{"messages": [{"role": "user", "content": "no answer here"}]}])
    job = client.post("/v1/fine_tuning/jobs", json={"model": "tiny-random", "training_file": file_id}).json()
    job = wait_for_job(client, job["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_training_file"
    assert "line 1" in job["error"]["message"]


def test_cancel_a_queued_or_running_job(client):
    file_id = upload_jsonl(client, TRAINING_ROWS * 10)
    job = client.post(
        "/v1/fine_tuning/jobs",
        json={"model": "tiny-random", "training_file": file_id, "hyperparameters": {"n_epochs": 50}},
    ).json()
    cancelled = client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    time.sleep(1)
    assert client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()["status"] == "cancelled"
    again = client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel")
    assert again.status_code == 400 and again.json()["error"]["message"]


def test_full_finetune_with_validation_file(client):
    train_id = upload_jsonl(client, TRAINING_ROWS)
    valid_id = upload_jsonl(client, TRAINING_ROWS[:2], "valid.jsonl")
    job = client.post(
        "/v1/fine_tuning/jobs",
        json={
            "model": "tiny-random",
            "training_file": train_id,
            "validation_file": valid_id,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 6, "batch_size": 1}}},
            "lora": False,
            "hyperparameters": {"learning_rate": 5e-3},
        },
    ).json()
    assert job["hyperparameters"]["lora"] is False and job["validation_file"] == valid_id
    job = wait_for_job(client, job["id"])
    assert job["status"] == "succeeded", job
    events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    assert sum("valid_loss" in e["data"] for e in events) == 6  # one evaluation per epoch
    prompt = TRAINING_ROWS[1]["messages"][0]["content"]
    assert greedy(client, job["fine_tuned_model"], prompt) != greedy(client, "tiny-random", prompt)
