"""Chat completion: one batched `generate` call per request, exact token accounting, seeded sampling."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .schemas import ChatCompletionRequest


def pick_device() -> tuple[str, torch.dtype]:
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


@dataclass
class LoadedModel:
    model_id: str
    model: Any
    tokenizer: Any
    stop_token_ids: list[int]  # EOS plus the tokens that end an assistant turn


class ModelPool:
    """Loaded models, shared by all requests; least recently used ones are dropped past `capacity`.

    `resolve(model_id)` maps an id to a loader (registry base model or fine-tuned model); the pool only caches.
    """

    def __init__(self, resolve, capacity: int = 3):
        self._resolve = resolve
        self._capacity = capacity
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str) -> LoadedModel:
        with self._lock:
            if model_id in self._models:
                self._models.move_to_end(model_id)
                return self._models[model_id]
            loaded = self._resolve(model_id)
            self._models[model_id] = loaded
            while len(self._models) > self._capacity:
                self._models.popitem(last=False)
            return loaded


def load_hf_model(
    model_id: str, path: Path, extra_stop_tokens: tuple[str, ...] = (), adapter_dirs: list[Path] | None = None
) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device, dtype = pick_device()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    for adapter_dir in adapter_dirs or []:
        from peft import PeftModel

        # Merge the LoRA weights into this private copy of the base: generation then costs the same as the base.
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    model.to(device).eval()
    stop_ids = {tokenizer.eos_token_id}
    for token in extra_stop_tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is not None and token_id != tokenizer.unk_token_id:
            stop_ids.add(token_id)
    return LoadedModel(model_id, model, tokenizer, sorted(i for i in stop_ids if i is not None))


class Generator:
    """Serialises generation on the shared model(s): one batched forward pass at a time uses all cores anyway."""

    def __init__(self, pool: ModelPool):
        self.pool = pool
        self._lock = threading.Lock()

    def chat_completion(self, request: ChatCompletionRequest) -> dict[str, Any]:
        loaded = self.pool.get(request.model)
        tokenizer, model = loaded.tokenizer, loaded.model
        prompt_ids = tokenizer.apply_chat_template(
            request.template_messages(), add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        # n samples of one prompt = one batch of n identical rows: a single batched pass, not n requests. (Rows
        # rather than num_return_sequences, which transformers refuses for greedy decoding.)
        input_ids = torch.tensor([prompt_ids] * request.n, device=model.device)
        sample = request.temperature > 0
        seed = request.seed if request.seed is not None else random.randrange(2**31)
        generate_kwargs: dict[str, Any] = dict(
            max_new_tokens=request.completion_limit,
            do_sample=sample,
            eos_token_id=loaded.stop_token_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
        if sample:
            generate_kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
        if request.stop:
            from transformers import StoppingCriteriaList

            generate_kwargs["stopping_criteria"] = StoppingCriteriaList(
                [StopOnStrings(tokenizer, request.stop, prompt_length=len(prompt_ids))]
            )
        with self._lock:
            # Seeding under the lock makes the output a function of the request alone.
            torch.manual_seed(seed % 2**63)
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **generate_kwargs
                )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        choices = []
        completion_tokens = 0
        for row in new_tokens:
            text, used, finish_reason = finish_choice(row, tokenizer, loaded.stop_token_ids, request.stop or [])
            completion_tokens += used
            choices.append((text, finish_reason))
        return chat_completion_body(request, choices, len(prompt_ids), completion_tokens, f"wcse-engine-seed-{seed}")


def chat_completion_body(
    request: ChatCompletionRequest,
    choices: list[tuple[str, str]],
    prompt_tokens: int,
    completion_tokens: int,
    system_fingerprint: str,
) -> dict[str, Any]:
    """An OpenAI `chat.completion` response: `choices` as (text, finish_reason) in order, and the prompt's tokens
    counted once per request, however large n is."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
            for index, (text, finish_reason) in enumerate(choices)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": system_fingerprint,
    }


class StopOnStrings:
    """Ends a row once its *generated* text contains a stop string.

    (transformers' own stop_strings also matches across the prompt boundary: a prompt ending in a newline and
    stop "\n\n" would end every choice after one token.) Only a tail window is decoded per step, to keep this
    cheap; finish_choice re-checks the full text, so a miss costs tokens, never correctness.
    """

    def __init__(self, tokenizer: Any, stops: list[str], prompt_length: int):
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_length = prompt_length
        self.window = 2 * max(len(stop) for stop in stops) + 4

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        tails = input_ids[:, self.prompt_length :][:, -self.window :]
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        done = [any(stop in text for stop in self.stops) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def finish_choice(
    row: list[int], tokenizer: Any, stop_token_ids: list[int], stop_strings: list[str]
) -> tuple[str, int, str]:
    """Cut one generated row at its end: a stop token, a stop string, or the token limit.

    Returns (text, tokens generated for it, finish_reason). The count includes the token that ended the choice
    (the model computed it) and excludes the padding that fills rows which finished before the longest one.
    """
    end = len(row)
    finish_reason = "length"
    for position, token in enumerate(row):
        if token in stop_token_ids:
            end, finish_reason = position + 1, "stop"
            break
    content_ids = row[: end - 1] if finish_reason == "stop" else row[:end]
    text = tokenizer.decode(content_ids, skip_special_tokens=True)
    hits = [(text.find(stop), stop) for stop in stop_strings if stop and stop in text]
    if hits:
        cut, _ = min(hits)
        text = text[:cut]
        end = _tokens_until_stop_string(content_ids, tokenizer, stop_strings)
        finish_reason = "stop"
    return text, end, finish_reason


def _tokens_until_stop_string(ids: list[int], tokenizer: Any, stop_strings: list[str]) -> int:
    """Smallest k such that the first k tokens already contain a stop string (binary search: prefixes grow)."""

    def contains_stop(k: int) -> bool:
        text = tokenizer.decode(ids[:k], skip_special_tokens=True)
        return any(stop and stop in text for stop in stop_strings)

    low, high = 1, len(ids)
    while low < high:
        middle = (low + high) // 2
        if contains_stop(middle):
            high = middle
        else:
            low = middle + 1
    return low
