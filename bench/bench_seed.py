"""Time `manage.py seed_demo` at 100,000 invoices on a fresh SQLite file, and optionally PostgreSQL.

    .venv/bin/python bench/bench_seed.py
    .venv/bin/python bench/bench_seed.py --postgres postgres://postgres@127.0.0.1:5432/seed_bench

Each run is a subprocess with its own DATABASE_URL, as `make run` would start it: `migrate`, then
`seed_demo`. The PostgreSQL database must exist; it is migrated and its demo groups are replaced
(`--reset`), nothing else in it is touched. Rows/s counts every row the seeder wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Rows the seeder writes, counted afterwards through the ORM so both databases are measured alike.
COUNT_ROWS = """
import json
from django.apps import apps
from django.contrib.auth.models import User
models = apps.get_app_config("companies").get_models()
print(json.dumps({m.__name__: m.objects.count() for m in [*models, User]}))
"""


def _manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _bench(label: str, database_url: str, seed_args: list[str]) -> None:
    _manage(database_url, "migrate", "--verbosity", "0")
    started = time.perf_counter()
    output = _manage(database_url, "seed_demo", *seed_args)
    seconds = time.perf_counter() - started
    counted = _manage(database_url, "shell", "--verbosity", "0", "--command", COUNT_ROWS)
    rows = json.loads(counted.splitlines()[-1])
    total = sum(rows.values())
    print(f"\n== {label}")
    print(output.splitlines()[0])
    print(
        f"wall time {seconds:.1f} s (with Django start-up); {total:,} rows, {total / seconds:,.0f} rows/s"
    )
    print("  " + ", ".join(f"{name} {count:,}" for name, count in rows.items() if count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", default="10")
    parser.add_argument("--invoices-per-company", default="10000")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database")
    options = parser.parse_args()
    seed_args = ["--companies", options.companies]
    seed_args += ["--invoices-per-company", options.invoices_per_company]
    print(f"{os.cpu_count()} CPUs; seed_demo {' '.join(seed_args)}")
    with tempfile.TemporaryDirectory() as scratch:
        _bench("SQLite (fresh file)", f"sqlite:///{scratch}/bench.sqlite3", seed_args)
    if options.postgres:
        _bench("PostgreSQL", options.postgres, [*seed_args, "--reset"])


if __name__ == "__main__":
    main()
