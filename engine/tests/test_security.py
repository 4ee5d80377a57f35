"""Cross-site requests are refused (security.py): Host and Origin checks, JSON only with a JSON content type, and
the optional bearer token WCSE_ENGINE_API_KEY. In-process (FastAPI's TestClient): the middleware decides from the
headers, before any route or model is touched."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from wcse_engine.app import create_app
from wcse_engine.engine import Engine
from wcse_engine.registry import default_cache_dir, load_registry
from wcse_engine.security import SecurityPolicy, refusal

JOB = {"model": "tiny-random", "training_file": "file-nope"}


def make_client(tmp_path, policy: SecurityPolicy, host: str = "127.0.0.1:8011") -> TestClient:
    engine = Engine(tmp_path / "state", load_registry(None, default_cache_dir()))
    # No `with`: the job manager (lifespan) is not started, so nothing can run even if a request got through.
    return TestClient(create_app(engine, policy), base_url=f"http://{host}")


@pytest.fixture()
def open_client(tmp_path) -> TestClient:
    return make_client(tmp_path, SecurityPolicy())


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_cross_origin_text_plain_job_creation_is_refused(open_client):
    # What a web page can send without a CORS preflight: a text/plain POST carrying JSON.
    response = open_client.post(
        "/v1/fine_tuning/jobs",
        content=json.dumps(JOB),
        headers={"content-type": "text/plain;charset=UTF-8", "origin": "https://evil.example"},
    )
    assert response.status_code == 403, response.text
    assert error_code(response) == "origin_not_allowed"
    assert open_client.app.state.engine.jobs.list() == []


def test_text_plain_body_is_415_even_without_origin(open_client):
    response = open_client.post("/v1/fine_tuning/jobs", content=json.dumps(JOB), headers={"content-type": "text/plain"})
    assert response.status_code == 415, response.text
    assert error_code(response) == "unsupported_media_type"
    assert "application/json" in response.json()["error"]["message"]


def test_body_without_content_type_is_415(open_client):
    response = open_client.post("/v1/chat/completions", content=b'{"model": "x", "messages": []}')
    assert response.status_code == 415, response.text


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:9999", "http://localhost:8011"])
def test_foreign_origins_are_refused(open_client, origin):
    response = open_client.get("/v1/models", headers={"origin": origin})
    assert response.status_code == 403, response.text
    assert error_code(response) == "origin_not_allowed"


def test_own_origin_and_json_pass(open_client):
    response = open_client.get("/v1/models", headers={"origin": "http://127.0.0.1:8011"})
    assert response.status_code == 200, response.text
    # Past the middleware: the route itself answers (a validation error, not a refusal).
    response = open_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8011", "192.168.1.10:8011", "127.0.0.1.evil.example"])
def test_non_loopback_hosts_are_refused(tmp_path, host):
    client = make_client(tmp_path, SecurityPolicy(), host=host)
    response = client.get("/v1/models")
    assert response.status_code == 403, response.text
    assert error_code(response) == "host_not_allowed"


@pytest.mark.parametrize("host", ["localhost:8011", "127.0.0.1", "[::1]:8011", "127.0.0.2:8011"])
def test_loopback_hosts_pass(tmp_path, host):
    assert make_client(tmp_path, SecurityPolicy(), host=host).get("/v1/models").status_code == 200


def test_configured_host_passes(tmp_path):
    policy = SecurityPolicy.from_env({"WCSE_ENGINE_ALLOWED_HOSTS": "gpu-box.lan, other"})
    assert make_client(tmp_path, policy, host="gpu-box.lan:8011").get("/v1/models").status_code == 200
    assert make_client(tmp_path, policy, host="evil.example").get("/v1/models").status_code == 403


def test_bearer_token_required_when_set(tmp_path):
    policy = SecurityPolicy.from_env({"WCSE_ENGINE_API_KEY": "sk-engine-secret"})
    client = make_client(tmp_path, policy)
    missing = client.get("/v1/models")
    assert missing.status_code == 401, missing.text
    assert error_code(missing) == "invalid_api_key"
    assert "sk-engine-secret" not in missing.text
    assert client.get("/v1/models", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/models", headers={"authorization": "Bearer sk-engine-secret"}).status_code == 200
    # Health stays open (scripts/engine.sh polls it); everything else needs the key.
    assert client.get("/health").status_code == 200
    refused = client.post("/v1/fine_tuning/jobs", json=JOB)
    assert refused.status_code == 401


def test_no_token_configured_means_none_required(open_client):
    assert open_client.get("/v1/models").status_code == 200


def test_multipart_upload_passes_the_content_type_check():
    headers = {"host": "127.0.0.1:8011", "content-type": "multipart/form-data; boundary=x", "content-length": "10"}
    assert refusal(SecurityPolicy(), "POST", "/v1/files", headers) is None


def test_empty_post_needs_no_content_type():
    headers = {"host": "127.0.0.1:8011", "content-length": "0"}
    assert refusal(SecurityPolicy(), "POST", "/v1/fine_tuning/jobs/ftjob-1/cancel", headers) is None
