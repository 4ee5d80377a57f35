"""A fine-tune of a fine-tune (the warm-up stage's models are the setups' bases): the engine trains a new LoRA
adapter on the first one's merged weights and serves the chain (base + every adapter)."""

from __future__ import annotations

from conftest import upload_jsonl, wait_for_job
from test_finetune import TRAINING_ROWS, greedy

FIRST = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + {b}?"},
            {"role": "assistant", "content": f"So {a} + {b} = {a + b}."},
        ]
    }
    for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]
]


def train(client, model: str, rows: list[dict], suffix: str) -> dict:
    file_id = upload_jsonl(client, rows)
    response = client.post(
        "/v1/fine_tuning/jobs",
        json={
            "model": model,
            "training_file": file_id,
            "suffix": suffix,
            "hyperparameters": {"n_steps": 16, "batch_size": 2, "learning_rate": 1e-2},
        },
    )
    assert response.status_code == 200, response.text
    job = wait_for_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_a_fine_tuned_model_is_finetuned_again_and_served_with_both_adapters(client):
    first = train(client, "tiny-random", FIRST, "warm")
    assert first["fine_tuned_model"] == f"ft:tiny-random:warm:{first['id']}"
    prompt = TRAINING_ROWS[0]["messages"][0]["content"]
    warmed = greedy(client, first["fine_tuned_model"], prompt)
    assert warmed.startswith("So ")  # the first adapter's answer prefix

    second = train(client, first["fine_tuned_model"], TRAINING_ROWS, "again")
    assert second["model"] == first["fine_tuned_model"]
    assert second["fine_tuned_model"] == f"ft:{first['fine_tuned_model']}:again:{second['id']}"
    events = client.get(f"/v1/fine_tuning/jobs/{second['id']}/events", params={"limit": 100}).json()["data"]
    assert sum(1 for e in events if "train_loss" in e["data"]) == 16
    # The second adapter trained on top of the first: its answers moved from "So ..." to the new "The ...".
    again = greedy(client, second["fine_tuned_model"], prompt)
    assert again != warmed and again.startswith("The ")
    listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert second["fine_tuned_model"] in listed


def test_an_unknown_fine_tuned_model_cannot_be_finetuned(client):
    file_id = upload_jsonl(client, TRAINING_ROWS)
    response = client.post(
        "/v1/fine_tuning/jobs", json={"model": "ft:tiny-random:nope:ftjob-missing", "training_file": file_id}
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["param"] == "model"
