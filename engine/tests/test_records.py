"""Typed records and request models, in process: state written before them still loads, defaults are unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wcse_engine.app import create_app
from wcse_engine.engine import Engine
from wcse_engine.errors import field_path
from wcse_engine.jobs import JobStore, resolve_hyperparameters, validate_chat_jsonl
from wcse_engine.registry import BUILTIN_MODELS, ModelRegistry
from wcse_engine.schemas import ChatCompletionRequest, FineTuningJobCreate

# A succeeded job.json exactly as the engine wrote it before the pydantic models (hand-validated dicts), from
# the request {"model": "tiny-random", "suffix": "adder", "lora": false, "metadata": {"wcse_run_key": "run-1"},
# "hyperparameters": {"n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": 2}}.
OLD_JOB = Path(__file__).parent / "fixtures" / "job-written-before-pydantic.json"


@pytest.fixture()
def old_state(tmp_path) -> tuple[Path, dict]:
    record = json.loads(OLD_JOB.read_text())
    job_dir = tmp_path / "jobs" / record["id"]
    job_dir.mkdir(parents=True)
    shutil.copy(OLD_JOB, job_dir / "job.json")
    return tmp_path, record


def test_old_job_json_loads_and_round_trips(old_state):
    state_dir, record = old_state
    job = JobStore(state_dir).get(record["id"])
    assert job is not None and job.status == "succeeded"
    assert job.hyperparameters.lora is False and job.hyperparameters.n_epochs == 2
    assert job.fine_tuned_model_id == record["fine_tuned_model"]
    assert job.model_dump(mode="json") == record  # nothing lost, nothing added


def test_old_state_dir_served_over_http(old_state):
    state_dir, record = old_state
    engine = Engine(state_dir, ModelRegistry(BUILTIN_MODELS, state_dir / "cache"))
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as client:
        assert client.get(f"/v1/fine_tuning/jobs/{record['id']}").json() == record
        listed = client.get("/v1/fine_tuning/jobs").json()
        assert listed["data"] == [record] and listed["has_more"] is False
        model = client.get(f"/v1/models/{record['fine_tuned_model']}").json()
        assert model["parent"] == "tiny-random" and model["created"] == record["finished_at"]


def test_same_request_resolves_to_the_same_hyperparameters_as_before():
    record = json.loads(OLD_JOB.read_text())
    request = FineTuningJobCreate.model_validate(
        {
            "model": "tiny-random",
            "training_file": record["training_file"],
            "suffix": "adder",
            "lora": False,
            "metadata": {"wcse_run_key": "run-1"},
            "hyperparameters": {"n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": 2},
        }
    )
    assert resolve_hyperparameters(request).model_dump() == record["hyperparameters"]


def test_nested_method_hyperparameters_override_top_level_ones():
    request = FineTuningJobCreate.model_validate(
        {
            "model": "tiny-random",
            "training_file": "file-x",
            "hyperparameters": {"n_epochs": 2, "batch_size": 3, "learning_rate": 0.5},
            "method": {"type": "full", "supervised": {"hyperparameters": {"n_epochs": 6, "batch_size": "auto"}}},
        }
    )
    resolved = resolve_hyperparameters(request)
    assert (resolved.n_epochs, resolved.batch_size, resolved.learning_rate) == (6, 4, 0.5)
    assert resolved.lora is False and resolved.lora_alpha == 2 * resolved.lora_r


@pytest.mark.parametrize(
    "line,problem",
    [
        ("{not json", "line 2: not valid JSON"),
        (
            '{"messages": [{"role": "user", "content": 3}]}',
            "line 2: messages[0].content: Input should be a valid string",
        ),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "line 2: messages: no assistant message to learn from"),
        ('{"messages": []}', "line 2: messages: List should have at least 1 item"),
    ],
)
def test_training_file_problems_name_line_and_field(tmp_path, line, problem):
    good = {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(good) + "\n" + line + "\n")
    assert (validate_chat_jsonl(path) or "").startswith(problem)
    path.write_text(json.dumps(good) + "\n\n")
    assert validate_chat_jsonl(path) is None


def test_field_path_names_parameters_like_openai():
    assert field_path(("messages", 0, "role")) == "messages[0].role"
    assert field_path(("hyperparameters", "n_epochs")) == "hyperparameters.n_epochs"
    assert field_path(()) is None


def test_chat_request_defaults_and_normalisation():
    request = ChatCompletionRequest.model_validate(
        {
            "model": "tiny-random",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]}
            ],
            "n": None,
            "temperature": None,
            "top_p": 0,
            "stop": "\n\n",
            "max_tokens": 64,
            "max_completion_tokens": 32,
            "logprobs": False,
        }
    )
    assert request.template_messages() == [{"role": "system", "content": "Be brief."}]
    assert (request.n, request.temperature, request.top_p) == (1, 1.0, 1.0)
    assert request.stop == ["\n\n"] and request.completion_limit == 32
    assert (
        ChatCompletionRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        ).completion_limit
        == 256
    )
