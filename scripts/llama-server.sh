#!/usr/bin/env bash
# Finds or builds llama.cpp's `llama-server` and prints its path on the last line of stdout.
#   1. $WCSE_LLAMA_SERVER, if set (used as is; an error if it is not executable);
#   2. `llama-server` on PATH;
#   3. a build cached per machine, outside the clone: ${WCSE_CACHE:-~/.cache/wcse}/llama-server/<key>/,
#      where <key> names the llama.cpp source version and this CPU's flags (the build is -DGGML_NATIVE=ON);
#   4. otherwise it builds one: the llama.cpp sources vendored in PyPI's llama-cpp-python source
#      distribution (MIT), fetched with pip (nothing else is downloaded), built with cmake for the
#      llama-server target only. About 6 minutes on an idle 2-core machine, 12 under load.
# Exit status 3 means no server could be found or built (no cmake/compiler, or the sdist is unreachable);
# callers fall back to the engine's own generation and say so.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36

log() { echo "llama-server: $*" >&2; }

if [ -n "${WCSE_LLAMA_SERVER:-}" ]; then
  if [ ! -x "$WCSE_LLAMA_SERVER" ]; then
    log "WCSE_LLAMA_SERVER=$WCSE_LLAMA_SERVER is not an executable file"
    exit 3
  fi
  echo "$WCSE_LLAMA_SERVER"
  exit 0
fi
if command -v llama-server >/dev/null 2>&1; then
  command -v llama-server
  exit 0
fi

cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sha256sum | cut -c1-12)
key="llama-cpp-python-${LLAMA_CPP_PYTHON_VERSION}-$(uname -m)-${cpu_flags}"
cache_root="${WCSE_CACHE:-$HOME/.cache/wcse}/llama-server"
target="$cache_root/$key"
if [ -x "$target/llama-server" ]; then
  echo "$target/llama-server"
  exit 0
fi

for tool in cmake make cc c++ python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "cannot build: '$tool' is not installed"
    exit 3
  fi
done

mkdir -p "$cache_root"
# One build at a time per machine: a second caller waits for the first and then reuses its result.
exec 9>"$cache_root/.lock"
flock 9
if [ -x "$target/llama-server" ]; then
  echo "$target/llama-server"
  exit 0
fi

work=$(mktemp -d "$cache_root/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building llama-server from PyPI llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (one time per machine; minutes)"
started=$SECONDS
if ! python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  -d "$work" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2; then
  log "could not fetch the llama-cpp-python source distribution"
  exit 3
fi
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
if ! cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >"$work/cmake.log" 2>&1; then
  tail -20 "$work/cmake.log" >&2
  log "cmake configure failed"
  exit 3
fi
if ! cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log" >&2
  log "build failed"
  exit 3
fi
mkdir -p "$target.tmp"
cp "$work/build/bin/llama-server" "$target.tmp/"
# The LoRA converter and its gguf package come from the same sources, for serving finetuned adapters.
cp "$src/convert_lora_to_gguf.py" "$src/convert_hf_to_gguf.py" "$target.tmp/"
cp -r "$src/gguf-py" "$target.tmp/"
# Newer llama.cpp keeps the per-architecture converters in a package next to the scripts.
if [ -d "$src/conversion" ]; then cp -r "$src/conversion" "$target.tmp/"; fi
rm -rf "$target"
mv "$target.tmp" "$target"
log "built in $((SECONDS - started))s: $target/llama-server"
echo "$target/llama-server"
