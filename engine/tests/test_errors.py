"""Bad requests get OpenAI-shaped error bodies with the right status codes."""

from __future__ import annotations

import pytest


def assert_openai_error(response, status: int, param: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


def test_unknown_model_is_404(client):
    response = client.post(
        "/v1/chat/completions", json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert_openai_error(response, 404, "model", "model_not_found")
    assert_openai_error(client.get("/v1/models/no-such-model"), 404)


@pytest.mark.parametrize(
    "body,param",
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "tiny-random"}, "messages"),
        ({"model": "tiny-random", "messages": []}, "messages"),
        ({"model": "tiny-random", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "n": 0}, "n"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "n": 1.5}, "n"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "temperature": 5}, "temperature"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "stop": [1]}, "stop"),
    ],
)
def test_malformed_chat_request_is_400(client, body, param):
    assert_openai_error(client.post("/v1/chat/completions", json=body), 400, param)


def test_invalid_json_is_400(client):
    response = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert_openai_error(response, 400)


def test_files_errors(client):
    assert_openai_error(client.get("/v1/files/file-missing"), 404, code="file_not_found")
    assert_openai_error(client.get("/v1/files/file-missing/content"), 404)
    # A urlencoded form (no file part) is a type a web page can send unasked: refused before the route.
    assert_openai_error(client.post("/v1/files", data={"purpose": "fine-tune"}), 415, code="unsupported_media_type")
    response = client.post("/v1/files", files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "nonsense"})
    assert_openai_error(response, 400, "purpose")


def test_fine_tuning_errors(client):
    assert_openai_error(client.get("/v1/fine_tuning/jobs/ftjob-missing"), 404)
    assert_openai_error(client.get("/v1/fine_tuning/jobs/ftjob-missing/events"), 404)
    assert_openai_error(client.post("/v1/fine_tuning/jobs/ftjob-missing/cancel"), 404)
    response = client.post("/v1/fine_tuning/jobs", json={"model": "tiny-random", "training_file": "file-missing"})
    assert_openai_error(response, 400, "training_file")
    response = client.post("/v1/fine_tuning/jobs", json={"model": "no-such-model", "training_file": "file-x"})
    assert_openai_error(response, 404, "model", "model_not_found")
    response = client.post("/v1/fine_tuning/jobs", json={"training_file": "file-x"})
    assert_openai_error(response, 400, "model")


@pytest.mark.parametrize(
    "extra,param",
    [
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"batch_size": "four"}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate_multiplier": -1}}, "hyperparameters.learning_rate_multiplier"),
        (
            {"method": {"supervised": {"hyperparameters": {"n_epochs": 1.5}}}},
            "method.supervised.hyperparameters.n_epochs",
        ),
        ({"method": {"type": "dpo"}}, "method.type"),
        ({"suffix": "a:b"}, "suffix"),
        ({"metadata": {"run": 1}}, "metadata.run"),
        ({"lora": "no"}, "lora"),
    ],
)
def test_malformed_fine_tuning_request_is_400(client, extra, param):
    body = {"model": "tiny-random", "training_file": "file-x", **extra}
    assert_openai_error(client.post("/v1/fine_tuning/jobs", json=body), 400, param)


def test_streaming_is_refused_by_name(client):
    body = {"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    error = assert_openai_error(client.post("/v1/chat/completions", json=body), 400, "stream")
    assert "streaming" in error["message"]


def test_unknown_route_is_openai_shaped_404(client):
    assert_openai_error(client.get("/v1/nothing-here"), 404)
