"""Grades the benchmark corpus with HF Math-Verify: one JSON line per item with its verdict and time.

Usage: python math_verify_runner.py CORPUS.jsonl OUT.jsonl
Gold answers are wrapped in $...$ (Math-Verify's documented way to parse a bare LaTeX gold answer).
"""
import json
import sys
import time

from math_verify import parse, verify


def main() -> None:
    corpus_path, out_path = sys.argv[1], sys.argv[2]
    items = [json.loads(line) for line in open(corpus_path, encoding="utf-8")]
    total = 0.0
    with open(out_path, "w", encoding="utf-8") as out:
        for item in items:
            start = time.perf_counter()
            try:
                gold = parse(f"${item['gold']}$")
                pred = parse(item["completion"])
                correct = bool(verify(gold, pred))
                error = None
            except Exception as exc:  # a crash counts as "not equal", as in Math-Verify's own wrappers
                correct, error = False, repr(exc)[:200]
            elapsed = time.perf_counter() - start
            total += elapsed
            out.write(json.dumps({"id": item["id"], "correct": correct, "seconds": elapsed, "error": error}) + "\n")
    print(json.dumps({"items": len(items), "seconds": total}))


if __name__ == "__main__":
    main()
