"""Matched training and model selection on the engine: `n_steps` trains exactly that many optimizer steps whatever
the dataset size, and `n_checkpoints` leaves evenly spaced servable checkpoints behind, listed by
GET /v1/fine_tuning/jobs/{id}/checkpoints and served by chat completions under their own model ids."""

from __future__ import annotations

from types import SimpleNamespace

from conftest import upload_jsonl, wait_for_job

from wcse_engine.finetune_worker import checkpoint_steps, trained_tokens

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + {b}?"},
            {"role": "assistant", "content": f"The answer is {a + b}."},
        ]
    }
    for a, b in [(1, 2), (3, 4), (5, 6)]
]


def test_checkpoint_steps_are_evenly_spaced_and_end_at_the_last_step():
    assert checkpoint_steps(10, 3) == [3, 7, 10]
    assert checkpoint_steps(5, 3) == [2, 3, 5]
    assert checkpoint_steps(2, 5) == [1, 2]
    assert checkpoint_steps(10, None) == []


def test_trained_tokens_count_the_examples_seen():
    lengths = [[0] * 10, [0] * 20, [0] * 30]
    by_steps = SimpleNamespace(n_steps=4, batch_size=2, n_epochs=3)
    # 8 examples seen of 3: two full passes (120 tokens) and 2 more at the mean length (2 x 20).
    assert trained_tokens(lengths, 4, by_steps) == 160
    by_epochs = SimpleNamespace(n_steps=None, batch_size=2, n_epochs=3)
    assert trained_tokens(lengths, 6, by_epochs) == 180


def test_n_steps_trains_exactly_that_many_steps_and_checkpoints_are_served(client):
    file_id = upload_jsonl(client, ROWS)
    job = client.post(
        "/v1/fine_tuning/jobs",
        json={
            "model": "tiny-random",
            "training_file": file_id,
            "suffix": "steps",
            # 3 examples at batch 2 would be 2 steps an epoch: 5 steps cycle the data 3+ times, epochs are ignored.
            "hyperparameters": {
                "n_steps": 5,
                "n_epochs": 1,
                "batch_size": 2,
                "learning_rate": 1e-2,
                "n_checkpoints": 3,
            },
        },
    ).json()
    assert job["hyperparameters"]["n_steps"] == 5 and job["hyperparameters"]["n_checkpoints"] == 3
    job = wait_for_job(client, job["id"])
    assert job["status"] == "succeeded", job

    events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    losses = [e["data"] for e in reversed(events) if "train_loss" in e["data"]]
    assert [e["step"] for e in losses] == [1, 2, 3, 4, 5]
    assert all(e["total_steps"] == 5 for e in losses)
    assert job["trained_tokens"] > 0

    checkpoints = client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()
    assert checkpoints["object"] == "list"
    assert [c["step_number"] for c in checkpoints["data"]] == [5, 3, 2]  # newest first, as OpenAI lists them
    for checkpoint in checkpoints["data"]:
        assert checkpoint["object"] == "fine_tuning.job.checkpoint"
        assert checkpoint["fine_tuning_job_id"] == job["id"]
        assert (
            checkpoint["fine_tuned_model_checkpoint"]
            == f"{job['fine_tuned_model']}:ckpt-step-{checkpoint['step_number']}"
        )
    page = client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["has_more"] is True

    # Each checkpoint is a model chat completions serve; an unknown step is a 404 like any unknown model.
    prompt = [{"role": "user", "content": ROWS[0]["messages"][0]["content"]}]
    for checkpoint in checkpoints["data"]:
        response = client.post(
            "/v1/chat/completions",
            json={"model": checkpoint["fine_tuned_model_checkpoint"], "messages": prompt, "max_tokens": 4},
        )
        assert response.status_code == 200, response.text
        assert response.json()["model"] == checkpoint["fine_tuned_model_checkpoint"]
    missing = client.post(
        "/v1/chat/completions",
        json={"model": f"{job['fine_tuned_model']}:ckpt-step-4", "messages": prompt, "max_tokens": 4},
    )
    assert missing.status_code == 404, missing.text


def test_the_same_n_steps_on_a_dataset_twice_as_large_trains_the_same_steps(client):
    """Matched training: WC data is larger than SE data, yet both jobs take the same optimizer steps."""
    small, large = upload_jsonl(client, ROWS), upload_jsonl(client, ROWS * 2, "large.jsonl")
    jobs = [
        client.post(
            "/v1/fine_tuning/jobs",
            json={
                "model": "tiny-random",
                "training_file": file_id,
                "hyperparameters": {"n_steps": 3, "batch_size": 2, "learning_rate": 1e-2},
            },
        ).json()
        for file_id in (small, large)
    ]
    steps = []
    for job in jobs:
        job = wait_for_job(client, job["id"])
        assert job["status"] == "succeeded", job
        events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
        steps.append([e["data"]["step"] for e in reversed(events) if "train_loss" in e["data"]])
        # A job without n_checkpoints leaves no servable checkpoint behind.
        assert client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"] == []
    assert steps == [[1, 2, 3], [1, 2, 3]]
