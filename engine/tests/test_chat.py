"""Chat completions: n samples in one request, exact usage, seeded determinism, stop strings, real weights."""

from __future__ import annotations

import time

from transformers import AutoTokenizer

from wcse_engine.registry import default_cache_dir, load_registry

MESSAGES = [
    {"role": "system", "content": "You are a careful math tutor."},
    {"role": "user", "content": "What is 17 * 3? Think step by step."},
]


def tokenizer_for(model_id: str):
    return AutoTokenizer.from_pretrained(load_registry(None, default_cache_dir()).materialize(model_id))


def expected_usage(tokenizer, messages, choices, max_tokens: int) -> tuple[int, int]:
    """Recount usage independently: the chat-templated prompt once; a choice cut by the limit cost max_tokens,
    one that ended by itself cost its text's tokens plus the end-of-turn token it generated."""
    prompt = len(
        tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
            "input_ids"
        ]
    )
    completion = 0
    for choice in choices:
        if choice["finish_reason"] == "length":
            completion += max_tokens
        else:
            completion += len(tokenizer(choice["message"]["content"], add_special_tokens=False)["input_ids"]) + 1
    return prompt, completion


def chat(client, **body):
    response = client.post("/v1/chat/completions", json={"messages": MESSAGES, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_models_and_health(client):
    assert client.get("/health").json() == {"status": "ok", "generation": "transformers"}
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert {"tiny-random", "smollm2-135m", "gemma3-270m"} <= set(ids)
    assert client.get("/v1/models/tiny-random").json()["object"] == "model"


def test_n_choices_with_exact_usage(client):
    body = chat(client, model="tiny-random", n=4, max_tokens=24, temperature=1.0, seed=7)
    assert body["object"] == "chat.completion" and body["model"] == "tiny-random"
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert all(c["finish_reason"] in ("stop", "length") for c in body["choices"])
    assert len({c["message"]["content"] for c in body["choices"]}) > 1  # n samples, not n copies
    prompt, completion = expected_usage(tokenizer_for("tiny-random"), MESSAGES, body["choices"], 24)
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    for choice in body["choices"]:
        if choice["finish_reason"] == "length":
            assert len(choice["message"]["content"]) == 24  # one character per token in tiny-random


def test_same_seed_same_samples_and_other_seed_differs(client):
    first = chat(client, model="tiny-random", n=3, max_tokens=16, temperature=0.9, top_p=0.95, seed=123)
    again = chat(client, model="tiny-random", n=3, max_tokens=16, temperature=0.9, top_p=0.95, seed=123)
    other = chat(client, model="tiny-random", n=3, max_tokens=16, temperature=0.9, top_p=0.95, seed=124)
    assert first["choices"] == again["choices"]
    assert first["choices"] != other["choices"]


def test_stop_string_cuts_and_counts(client):
    free = chat(client, model="tiny-random", n=1, max_tokens=30, temperature=0, seed=1)
    text = free["choices"][0]["message"]["content"]
    assert free["choices"][0]["finish_reason"] == "length" and len(text) == 30
    stop = text[10:12]
    cut = text.index(stop)
    stopped = chat(client, model="tiny-random", n=1, max_tokens=30, temperature=0, seed=1, stop=[stop])
    assert stopped["choices"][0]["message"]["content"] == text[:cut]
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert stopped["usage"]["completion_tokens"] == cut + len(stop)  # tokens generated up to the stop string


def test_real_weights_smollm2_generates_with_exact_usage(client):
    messages = [{"role": "user", "content": "What is 17 * 3? Reply with just the number."}]
    started = time.time()
    response = client.post(
        "/v1/chat/completions",
        json={"model": "smollm2-135m", "messages": messages, "n": 4, "max_tokens": 24, "temperature": 0.7, "seed": 3},
    )
    seconds = time.time() - started
    assert response.status_code == 200, response.text
    body = response.json()
    contents = [c["message"]["content"] for c in body["choices"]]
    assert len(contents) == 4 and all(contents)
    assert any("51" in c for c in contents), contents  # real weights: 17 * 3 comes out right in some sample
    assert any(c["finish_reason"] == "stop" for c in body["choices"])
    prompt, completion = expected_usage(tokenizer_for("smollm2-135m"), messages, body["choices"], 24)
    assert body["usage"]["prompt_tokens"] == prompt
    assert body["usage"]["completion_tokens"] == completion
    print(f"smollm2-135m n=4: {completion} tokens in {seconds:.1f}s (includes the first load)")


def test_real_weights_gemma3_loads_and_generates(client):
    """The gemma3 GGUF (base model, no template in the file) loads through transformers and gets Gemma's turns."""
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Question: Tom has 3 apples and buys 5 more. How many apples now?"},
    ]
    response = client.post(
        "/v1/chat/completions",
        json={"model": "gemma3-270m", "messages": messages, "n": 2, "max_tokens": 12, "temperature": 0.8, "seed": 5},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    tokenizer = tokenizer_for("gemma3-270m")
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered.startswith("<bos><start_of_turn>user\nAnswer briefly.\n\nQuestion:")
    assert rendered.endswith("<start_of_turn>model\n")
    prompt, completion = expected_usage(tokenizer, messages, body["choices"], 12)
    assert body["usage"]["prompt_tokens"] == prompt
    assert body["usage"]["completion_tokens"] == completion


def test_greedy_with_n_returns_identical_choices(client):
    body = chat(client, model="tiny-random", n=3, max_tokens=8, temperature=0)
    assert len({c["message"]["content"] for c in body["choices"]}) == 1
    assert body["usage"]["completion_tokens"] == sum(
        8 if c["finish_reason"] == "length" else len(c["message"]["content"]) + 1 for c in body["choices"]
    )
