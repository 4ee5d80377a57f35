"""Request bodies as pydantic models: one declaration per route body, validated by FastAPI before the route runs.

Numbers are strict (no strings or booleans for an int or float, as the hand-written checks had it); null means
"not given", as in OpenAI's API. Unknown fields are ignored, as OpenAI clients send options the engine has no use
for. Each model normalises what it accepts into the one shape the engine uses: `developer` turns into `system`,
content parts into text, a single stop string into a list, `"auto"` into "engine default" (None).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "developer", "user", "assistant"]


class RequestModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def null_is_absent(cls, data: Any) -> Any:
        """OpenAI's parameters are nullable: `"n": null` means the default, as leaving `n` out does."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def _text_of_parts(content: Any) -> Any:
    """OpenAI content parts ([{"type": "text", "text": ...}, ...]) -> their text joined; anything else as is."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


class ChatMessage(RequestModel):
    role: Role
    content: Annotated[str, BeforeValidator(_text_of_parts)]

    @field_validator("role")
    @classmethod
    def developer_is_system(cls, role: str) -> str:
        return "system" if role == "developer" else role


def _stop_list(value: Any) -> Any:
    """`stop` as a list of 1-4 non-empty strings; checked here in full so the error names `stop` itself."""
    if value is None:
        return None
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
        raise ValueError("must be a string or an array of up to 4 non-empty strings")
    return stops or None


class ChatCompletionRequest(RequestModel):
    """POST /v1/chat/completions. Newer clients send `max_completion_tokens`, older ones `max_tokens`."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    n: int = Field(1, ge=1, le=128)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, ge=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    stop: Annotated[list[str] | None, BeforeValidator(_stop_list)] = None
    stream: bool | None = None

    @field_validator("top_p")
    @classmethod
    def zero_top_p_is_off(cls, top_p: float) -> float:
        return top_p or 1.0  # top_p 0 would keep no token at all; read as "no nucleus cut"

    @field_validator("stream")
    @classmethod
    def no_streaming(cls, stream: bool | None) -> bool | None:
        if stream:
            raise ValueError("streaming is not supported by the wcse engine")
        return stream

    @property
    def completion_limit(self) -> int:
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens if self.max_tokens is not None else 256

    def template_messages(self) -> list[dict[str, str]]:
        return [message.model_dump() for message in self.messages]


FilePurpose = Literal["fine-tune", "batch", "assistants", "user_data", "evals"]


class FileUpload(BaseModel):
    """POST /v1/files, multipart form fields."""

    file: UploadFile
    purpose: FilePurpose


def _auto_is_none(value: Any) -> Any:
    return None if value == "auto" else value


# A hyperparameter OpenAI lets the caller leave to the service: a value, "auto" or nothing (both: the default).
PositiveInt = Annotated[Annotated[int, Field(ge=1)] | None, BeforeValidator(_auto_is_none)]
PositiveFloat = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_auto_is_none)]


class Hyperparameters(RequestModel):
    """OpenAI's three, plus the engine's extensions (n_steps, learning_rate absolute, LoRA shape, checkpoints,
    length). `n_steps` trains exactly that many optimizer steps, cycling the data; it wins over `n_epochs`."""

    n_epochs: PositiveInt = None
    n_steps: PositiveInt = None
    n_checkpoints: PositiveInt = None  # evenly spaced servable checkpoints (GET /fine_tuning/jobs/{id}/checkpoints)
    batch_size: PositiveInt = None
    learning_rate_multiplier: PositiveFloat = None
    learning_rate: PositiveFloat = None
    lora_r: PositiveInt = None
    lora_alpha: PositiveInt = None
    checkpoint_steps: PositiveInt = None
    max_length: Annotated[Annotated[int, Field(ge=8)] | None, BeforeValidator(_auto_is_none)] = None


class SupervisedMethod(RequestModel):
    hyperparameters: Hyperparameters | None = None


class Method(RequestModel):
    type: Literal["supervised", "lora", "full"] = "supervised"
    supervised: SupervisedMethod | None = None
    lora: bool | None = None


MetadataKey = Annotated[str, Field(max_length=64)]
MetadataValue = Annotated[str, Field(max_length=512)]


class FineTuningJobCreate(RequestModel):
    """POST /v1/fine_tuning/jobs. Whether the files exist and the model can be finetuned is checked by the jobs
    module against the stores; this model checks the shape."""

    model: str = Field(min_length=1)
    training_file: str
    validation_file: str | None = None
    suffix: str | None = Field(None, max_length=64)
    seed: int | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method = Field(default_factory=Method)
    lora: bool | None = None  # extension; method.lora or method.type "full" say the same
    metadata: dict[MetadataKey, MetadataValue] | None = Field(None, max_length=16)

    @field_validator("suffix")
    @classmethod
    def suffix_without_colon(cls, suffix: str | None) -> str | None:
        if suffix is not None and ":" in suffix:
            raise ValueError("must not contain ':' (it separates the parts of a fine-tuned model id)")
        return suffix

    def merged_hyperparameters(self) -> Hyperparameters:
        """Top-level `hyperparameters`, overridden by what `method.supervised.hyperparameters` sets."""
        top = self.hyperparameters or Hyperparameters()
        nested = self.method.supervised.hyperparameters if self.method.supervised else None
        if nested is None:
            return top
        return top.model_copy(update=nested.model_dump(exclude_unset=True))

    def uses_lora(self) -> bool:
        """LoRA unless asked otherwise: method.type "full", or `lora: false` (method.lora wins over top level)."""
        lora = self.method.type != "full"
        for flag in (self.lora, self.method.lora):
            if flag is not None:
                lora = flag
        return lora


class TrainingMessage(BaseModel):
    role: Role
    content: str = Field(strict=True)


class TrainingExample(BaseModel):
    """One line of a chat JSONL training or validation file."""

    messages: list[TrainingMessage] = Field(min_length=1)

    @field_validator("messages")
    @classmethod
    def has_assistant_turn(cls, messages: list[TrainingMessage]) -> list[TrainingMessage]:
        if not any(message.role == "assistant" for message in messages):
            raise ValueError("no assistant message to learn from")
        return messages
