"""`python -m qbo_sandbox --port PORT [--data-dir DIR] [--latency-ms N] [--minute-seconds S] ...`"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from qbo_sandbox.app import build_app
from qbo_sandbox.context import Config


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m qbo_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="persist state here (default: in memory only)"
    )
    parser.add_argument("--latency-ms", type=float, default=0, help="added to every API request")
    parser.add_argument(
        "--minute-seconds",
        type=float,
        default=60,
        help="length of a rate-limit 'minute' in seconds (a 'second' is 1/60 of it)",
    )
    parser.add_argument("--client-id", default="sandbox-client-id")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    args = parser.parse_args(argv)
    return Config(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        latency_ms=args.latency_ms,
        minute_seconds=args.minute_seconds,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    uvicorn.run(
        build_app(config),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        # Many concurrent clients under injected latency: keep the accept backlog deep.
        backlog=2048,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
