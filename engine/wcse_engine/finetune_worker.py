"""Fine-tuning worker, run as a subprocess per job: TRL SFTTrainer (LoRA by default), resumable from checkpoints.

    python -m wcse_engine.finetune_worker --job-dir DIR --base-model-path HF_DIR --training-file F.jsonl

It reads job.json for the hyperparameters, appends loss events to events.jsonl, checkpoints under checkpoints/,
and ends by writing model/ and result.json (or error.json). Started again on the same job dir, it continues from
the newest checkpoint.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import shutil
import sys
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from .jobs import SERVED_DIR, read_job  # noqa: E402
from .store import append_event, write_json_atomic  # noqa: E402


def load_chat_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def to_training_examples(rows: list[dict]) -> list[dict]:
    """Split each conversation into prompt (everything before the last assistant turn) and completion.

    TRL then computes the loss on the completion only, which is what SFT on sampled solutions wants: the model
    learns to answer, not to reproduce the question. A conversation that does not end with the assistant is
    trained on whole.
    """
    examples = []
    for row in rows:
        messages = [
            {"role": m["role"] if m["role"] != "developer" else "system", "content": m["content"]}
            for m in row["messages"]
        ]
        if messages[-1]["role"] == "assistant" and len(messages) > 1:
            examples.append({"prompt": messages[:-1], "completion": messages[-1:]})
        else:
            examples.append({"prompt": [], "completion": messages})
    if any(not e["prompt"] for e in examples):  # one schema per dataset: fall back to whole conversations
        return [{"messages": e["prompt"] + e["completion"]} for e in examples]
    return examples


def trained_tokens(input_ids: list[list[int]], steps: int, hp) -> int:
    """Tokens the optimizer went through: whole epochs, or with n_steps its examples seen (steps x batch size,
    cycling the data in order) counted exactly."""
    lengths = [len(ids) for ids in input_ids]
    if not lengths:
        return 0
    if not hp.n_steps:
        return sum(lengths) * hp.n_epochs
    seen = steps * hp.batch_size
    full, rest = divmod(seen, len(lengths))
    # The trainer shuffles each pass; the partial pass is counted at the dataset's mean length.
    return sum(lengths) * full + round(sum(lengths) * rest / len(lengths))


def make_event_callback(job_dir: Path):
    from transformers import TrainerCallback

    class EventCallback(TrainerCallback):
        """Reports training progress as OpenAI-style fine_tuning.job.event lines."""

        def on_train_begin(self, args, state, control, **kwargs):
            append_event(
                job_dir,
                f"Training started: {state.max_steps} steps",
                data={"total_steps": state.max_steps, "resumed_at_step": state.global_step}
                if state.global_step
                else {"total_steps": state.max_steps},
            )

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                data = {
                    "step": state.global_step,
                    "total_steps": state.max_steps,
                    "train_loss": logs["loss"],
                    "epoch": logs.get("epoch"),
                    "learning_rate": logs.get("learning_rate"),
                }
                if "mean_token_accuracy" in logs:
                    data["train_mean_token_accuracy"] = logs["mean_token_accuracy"]
                append_event(
                    job_dir, f"Step {state.global_step}/{state.max_steps}: training loss={logs['loss']:.4f}", data=data
                )
            if "eval_loss" in logs:
                append_event(
                    job_dir,
                    f"Step {state.global_step}: validation loss={logs['eval_loss']:.4f}",
                    data={"step": state.global_step, "total_steps": state.max_steps, "valid_loss": logs["eval_loss"]},
                )

        def on_save(self, args, state, control, **kwargs):
            append_event(
                job_dir, f"Checkpoint saved at step {state.global_step}", data={"checkpoint_step": state.global_step}
            )

    return EventCallback()


def checkpoint_steps(total_steps: int, count: int | None) -> list[int]:
    """`count` evenly spaced steps ending at the last one: 10 steps, 3 checkpoints -> [3, 7, 10]."""
    if not count or total_steps < 1:
        return []
    return sorted({max(1, round(total_steps * i / count)) for i in range(1, count + 1)})


def make_snapshot_callback(job_dir: Path, steps: list[int], tokenizer):
    """Saves a servable copy of the model (the adapter, for LoRA) at each of `steps`, with its latest train loss:
    served-checkpoints/step-<N>/ with checkpoint.json written last, so a half-written snapshot is never listed."""
    import time

    from transformers import TrainerCallback

    wanted = set(steps)

    class SnapshotCallback(TrainerCallback):
        last_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.last_loss = logs["loss"]

        def on_step_end(self, args, state, control, **kwargs):
            step = state.global_step
            target = job_dir / SERVED_DIR / f"step-{step}"
            if step not in wanted or (target / "checkpoint.json").exists():
                return
            shutil.rmtree(target, ignore_errors=True)
            kwargs["model"].save_pretrained(str(target))
            tokenizer.save_pretrained(str(target))
            # The loss of this step is logged after on_step_end: the metric is the latest one logged before it.
            metrics = {"step": step} | ({"train_loss": self.last_loss} if self.last_loss is not None else {})
            write_json_atomic(
                target / "checkpoint.json", {"step": step, "created_at": int(time.time()), "metrics": metrics}
            )
            append_event(
                job_dir,
                f"Servable checkpoint at step {step}",
                data={"step": step, "total_steps": state.max_steps, "servable_checkpoint": True},
            )

    return SnapshotCallback()


def train(
    job_dir: Path,
    base_model_path: Path,
    training_file: Path,
    validation_file: Path | None,
    merge_adapters: list[Path] | None = None,
) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    job = read_job(job_dir / "job.json")
    hp = job.hyperparameters
    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        torch.set_num_threads(max(1, os.cpu_count() or 1))

    tokenizer = AutoTokenizer.from_pretrained(base_model_path)
    model = AutoModelForCausalLM.from_pretrained(base_model_path, dtype=torch.bfloat16 if on_gpu else torch.float32)
    # Training on a fine-tuned model: its adapters (oldest first) are merged into the base weights, and this job
    # trains a new adapter on top, served later as the base with every adapter of the chain applied.
    for adapter in merge_adapters or []:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    train_dataset = Dataset.from_list(to_training_examples(load_chat_rows(training_file)))
    eval_dataset = Dataset.from_list(to_training_examples(load_chat_rows(validation_file))) if validation_file else None

    steps_per_epoch = math.ceil(len(train_dataset) / hp.batch_size)
    # n_steps: exactly that many optimizer steps whatever the dataset size (the trainer cycles the data), so
    # every data source of a setup trains alike; else whole epochs.
    total_steps = hp.n_steps or steps_per_epoch * hp.n_epochs
    # About ten checkpoints per job by default: frequent enough that a restart loses little, rare enough that
    # saving (optimizer state included) stays a small share of the time.
    save_steps = hp.checkpoint_steps or max(1, total_steps // 10)
    checkpoints_dir = job_dir / "checkpoints"
    config = SFTConfig(
        output_dir=str(checkpoints_dir),
        num_train_epochs=hp.n_epochs,
        max_steps=hp.n_steps or -1,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        eval_strategy="epoch" if eval_dataset is not None else "no",
        max_length=hp.max_length,
        seed=job.seed,
        data_seed=job.seed,
        bf16=on_gpu,
        use_cpu=not on_gpu,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        save_only_model=False,
    )
    peft_config = None
    if hp.lora:
        peft_config = LoraConfig(
            r=hp.lora_r,
            lora_alpha=hp.lora_alpha,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[
            make_event_callback(job_dir),
            make_snapshot_callback(job_dir, checkpoint_steps(total_steps, hp.n_checkpoints), tokenizer),
        ],
    )
    last_checkpoint = get_last_checkpoint(str(checkpoints_dir)) if checkpoints_dir.exists() else None
    if last_checkpoint:
        append_event(
            job_dir,
            f"Resuming from checkpoint {Path(last_checkpoint).name}",
            data={"resumed_from": Path(last_checkpoint).name},
        )
    output = trainer.train(resume_from_checkpoint=last_checkpoint)

    # Write the model next to its final place and rename: a crash never leaves a half-written model/.
    staging = job_dir / "model.partial"
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))  # LoRA: the adapter only; full: the whole model
    tokenizer.save_pretrained(str(staging))
    shutil.rmtree(job_dir / "model", ignore_errors=True)
    os.replace(staging, job_dir / "model")

    return {
        "trained_tokens": trained_tokens(trainer.train_dataset["input_ids"], trainer.state.global_step, hp),
        "train_loss": output.training_loss,
        "steps": trainer.state.global_step,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wcse_engine.finetune_worker")
    parser.add_argument("--job-dir", type=Path, required=True)
    parser.add_argument("--base-model-path", type=Path, required=True)
    parser.add_argument("--training-file", type=Path, required=True)
    parser.add_argument("--validation-file", type=Path)
    parser.add_argument("--merge-adapter", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    job_dir: Path = args.job_dir
    # One worker per job, ever: a second one (say, after a restart raced a dying worker) waits for the lock.
    lock = open(job_dir / "worker.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        result = train(job_dir, args.base_model_path, args.training_file, args.validation_file, args.merge_adapter)
    except Exception as error:
        traceback.print_exc()
        write_json_atomic(
            job_dir / "error.json", {"code": "training_failed", "message": f"{type(error).__name__}: {error}"}
        )
        return 1
    write_json_atomic(job_dir / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
