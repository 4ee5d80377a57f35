"""A crash of the engine mid-job loses nothing: the restarted engine resumes the job from its last checkpoint."""

from __future__ import annotations

import time

from conftest import EngineProcess, upload_jsonl, wait_for_job

ROWS = [
    {"messages": [{"role": "user", "content": f"Say {word}."}, {"role": "assistant", "content": f"{word}!"}]}
    for word in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
]


def events_oldest_first(client, job_id: str) -> list[dict]:
    return list(reversed(client.get(f"/v1/fine_tuning/jobs/{job_id}/events", params={"limit": 10_000}).json()["data"]))


def test_killed_engine_resumes_job_from_checkpoint(tmp_path):
    state_dir = tmp_path / "state"
    engine = EngineProcess(state_dir).start()
    try:
        with engine.client() as client:
            file_id = upload_jsonl(client, ROWS)
            job = client.post(
                "/v1/fine_tuning/jobs",
                json={
                    "model": "tiny-random",
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 50, "batch_size": 1, "checkpoint_steps": 25},
                },
            ).json()
            total_steps = 50 * len(ROWS)
            deadline = time.time() + 120
            while time.time() < deadline:  # wait for the first checkpoint, then crash the engine
                if any("checkpoint_step" in e["data"] for e in events_oldest_first(client, job["id"])):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("no checkpoint was saved")
        engine.kill()
        time.sleep(1.0)  # the worker dies with its parent (PR_SET_PDEATHSIG)
        checkpoints = sorted(
            int(p.name.split("-")[1]) for p in (state_dir / "jobs" / job["id"] / "checkpoints").glob("checkpoint-*")
        )
        assert checkpoints and checkpoints[-1] < total_steps, checkpoints
        assert not (state_dir / "jobs" / job["id"] / "result.json").exists()

        engine = EngineProcess(state_dir).start()
        with engine.client() as client:
            assert client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()["status"] == "running"
            job = wait_for_job(client, job["id"])
            assert job["status"] == "succeeded", job
            events = events_oldest_first(client, job["id"])
            resumed = [e for e in events if "resumed_from" in e["data"]]
            assert len(resumed) == 1
            resumed_step = int(resumed[0]["data"]["resumed_from"].split("-")[1])
            assert resumed_step >= checkpoints[-1]
            # After the restart, training continued at the checkpoint's step rather than at step 1.
            later_steps = [e["data"]["step"] for e in events[events.index(resumed[0]) :] if "train_loss" in e["data"]]
            assert later_steps[0] == resumed_step + 1 and later_steps[-1] == total_steps
            # And the finished model is served.
            answer = client.post(
                "/v1/chat/completions",
                json={
                    "model": job["fine_tuned_model"],
                    "messages": [{"role": "user", "content": "Say beta."}],
                    "temperature": 0,
                    "max_tokens": 8,
                },
            )
            assert answer.status_code == 200, answer.text
    finally:
        engine.stop()
