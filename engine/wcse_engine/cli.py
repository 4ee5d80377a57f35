"""Command line: `python -m wcse_engine serve --host 127.0.0.1 --port 8011 --state-dir DIR [--models FILE]`."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

# Weights come from installed packages and the local cache; never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .engine import Engine
    from .registry import default_cache_dir, load_registry

    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    registry = load_registry(args.models, cache_dir)
    engine = Engine(state_dir, registry, args.models)
    for model_id in args.preload or []:
        started = time.time()
        engine.pool.get(model_id)
        print(f"wcse-engine: loaded {model_id} in {time.time() - started:.1f}s", flush=True)
    config = uvicorn.Config(create_app(engine), host=args.host, port=args.port, log_level=args.log_level)
    server = uvicorn.Server(config)

    def announce_when_listening() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        print(
            f"wcse-engine ready on http://{args.host}:{args.port} (state {state_dir}, models "
            f"{', '.join(registry.specs)})",
            flush=True,
        )

    threading.Thread(target=announce_when_listening, daemon=True).start()
    server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wcse_engine", description="wcse local OpenAI-compatible model engine")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the OpenAI-compatible API")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8011)
    serve_parser.add_argument("--state-dir", default="engine/state", help="files, jobs and checkpoints live here")
    serve_parser.add_argument("--models", help="JSON or YAML file adding/overriding model registry entries")
    serve_parser.add_argument(
        "--cache-dir", help="materialised model weights (default $WCSE_ENGINE_CACHE or ~/.cache/wcse_engine/models)"
    )
    serve_parser.add_argument("--preload", action="append", help="model id to load before accepting requests")
    serve_parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
