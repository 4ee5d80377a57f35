"""Generates the quickstart's task: arithmetic word problems in levels the 135M/270M models can learn.

A problem starts with a count of things someone has and changes it `steps` times (gets more, gives away, gets k
times as many); the question asks for the final count. Its level says how hard it is:

| level | steps | operations | numbers |
|---|---|---|---|
| 1 | 1 | + or - | 2 to 20 |
| 2 | 1 | + or - | 10 to 99 |
| 3 | 2 | + or - | 2 to 20 |
| 4 | 2 | +, - or x (2 to 5) | 2 to 50 |

Every row is GSM8K-shaped (kind: gsm8k): `question`, `answer` (the worked solution, one line per step, ending
"#### N" like GSM8K's), plus `id` and `level`. Results never go below zero.

Three splits from one seeded stream, disjoint by question text: `arithmetic_warmup.jsonl` (the warm-up stage's
finetuning problems), `arithmetic_train.jsonl` (the study's training problems) and `arithmetic_test.jsonl` (its
held-out test questions). Run from the repo root: python3 data/make_arithmetic.py (output is byte-identical for
the same SEED and counts).
"""

import json
import random

SEED = 20261125
SPLITS = [("warmup", 1200), ("train", 240), ("test", 240)]
LEVELS = {
    1: {"steps": 1, "ops": ["+", "-"], "low": 2, "high": 20},
    2: {"steps": 1, "ops": ["+", "-"], "low": 10, "high": 99},
    3: {"steps": 2, "ops": ["+", "-"], "low": 2, "high": 20},
    4: {"steps": 2, "ops": ["+", "-", "*"], "low": 2, "high": 50},
}

PEOPLE = [
    ("Mia", "She", "her"), ("Leo", "He", "his"), ("Ava", "She", "her"), ("Sam", "He", "his"),
    ("Zoe", "She", "her"), ("Max", "He", "his"), ("Ivy", "She", "her"), ("Ben", "He", "his"),
    ("Lily", "She", "her"), ("Omar", "He", "his"), ("Nina", "She", "her"), ("Tom", "He", "his"),
    ("Rosa", "She", "her"), ("Raj", "He", "his"), ("Emma", "She", "her"), ("Jack", "He", "his"),
]
THINGS = [
    "apples", "stickers", "marbles", "books", "coins", "pencils", "cookies", "cards", "shells", "stamps",
    "balloons", "toy cars", "beads", "eggs", "flowers", "candies",
]
GAIN = ["{P} gets {n} more {t}.", "{P} buys {n} more {t}.", "A friend gives {o} {n} {t}.", "{P} finds {n} more {t}."]
LOSS = ["{P} gives away {n} {t}.", "{P} eats {n} of them.", "{P} loses {n} {t}.", "{P} sells {n} {t}."]
TIMES = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}


def problem(rng: random.Random, level: int) -> tuple[str, str, int]:
    spec = LEVELS[level]
    name, pronoun, possessive = rng.choice(PEOPLE)
    things = rng.choice(THINGS)
    objective = "her" if pronoun == "She" else "him"
    count = rng.randint(spec["low"], spec["high"])
    question = [f"{name} has {count} {things}."]
    steps = []
    for _ in range(spec["steps"]):
        op = rng.choice(spec["ops"])
        if op == "-" and count < spec["low"] + 1:
            op = "+"
        if op == "+":
            n = rng.randint(spec["low"], spec["high"])
            question.append(rng.choice(GAIN).format(P=pronoun, o=objective, n=n, t=things))
            result = count + n
            steps.append(f"{count} + {n} = {result}.")
        elif op == "-":
            n = rng.randint(1, count - 1) if count - 1 < spec["low"] else rng.randint(spec["low"], count - 1)
            question.append(rng.choice(LOSS).format(P=pronoun, n=n, t=things))
            result = count - n
            steps.append(f"{count} - {n} = {result}.")
        else:
            k = rng.randint(2, 5)
            question.append(f"Then {pronoun.lower()} has {TIMES[k]} as many {things} as before.")
            result = count * k
            steps.append(f"{count} * {k} = {result}.")
        count = result
    question.append(f"How many {things} does {name} have now?")
    lines = [f"{name} starts with {steps[0].split(' ')[0]} {things}."]
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        lines.append(f"{'Now' if last else 'Then'} {pronoun.lower()} has {step[:-1]} {things}.")
    del possessive
    return " ".join(question), "\n".join(lines) + f"\n#### {count}", count


def main() -> None:
    rng = random.Random(SEED)
    seen: set[str] = set()
    for split, count in SPLITS:
        rows = []
        while len(rows) < count:
            level = 1 + len(rows) % len(LEVELS)  # equal shares of every level, interleaved
            question, answer, _ = problem(rng, level)
            if question in seen:
                continue
            seen.add(question)
            rows.append({"id": f"arith-{split}-{len(rows) + 1:04d}", "level": level, "question": question, "answer": answer})
        with open(f"data/arithmetic_{split}.jsonl", "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
