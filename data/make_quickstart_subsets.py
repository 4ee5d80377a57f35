"""Derives the quickstart's GSM8K subsets: the problems with the fewest solution steps, shortest question
first, so that 135M/270M-parameter models solve some of them and every stage of the study has data.
Run from the repo root: python3 data/make_quickstart_subsets.py"""

import json


def shortest(path: str, count: int) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    rows.sort(key=lambda row: (row["answer"].count("\n"), len(row["question"]), row["question"]))
    return rows[:count]


for source, target, count in [
    ("data/gsm8k_train.jsonl", "data/gsm8k_quickstart_train.jsonl", 64),
    ("data/gsm8k_test.jsonl", "data/gsm8k_quickstart_test.jsonl", 32),
]:
    with open(target, "w", encoding="utf-8") as out:
        for row in shortest(source, count):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
