"""Measure the qbo_sandbox's own capacity: mixed throughput and requests in flight under latency.

Usage: .venv/bin/python bench/bench_sandbox.py [--seconds 10] [--workers 40] [--inflight 250]

Starts `python -m qbo_sandbox` in a subprocess and drives it with a minimal asyncio HTTP/1.1 client
(keep-alive connections, stdlib only) so the client is not the bottleneck:
1. Throughput: `--workers` connections, 10 per realm (QBO's per-realm concurrency limit), run a
   mix of 30% customer creates, 20% invoice creates, 30% reads and 20% queries. The rate windows are compressed (--minute-seconds 0.0006) so QBO's per-realm request
   quotas do not cap the measurement; any 429 is still counted and printed.
2. In flight: a global 200 ms latency fault, then `--inflight` connections (10 per realm) doing reads;
   prints the peak number of requests the sandbox held at once and the rate it still served.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_REALM = 10


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough HTTP for the sandbox's answers."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def control(url: str, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/__sandbox__/{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "qbo_sandbox", "--port", str(port), "--minute-seconds", "0.0006"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(150):
        try:
            control(f"http://127.0.0.1:{port}", "GET", "health")
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("sandbox did not start")


class Worker:
    def __init__(self, port: int, realm_id: str, token: str, seed: int) -> None:
        self.connection = Connection(port, token)
        self.base = f"/v3/company/{realm_id}"
        self.random = random.Random(seed)
        self.seed = seed
        self.customers: list[str] = []
        self.invoices: list[str] = []
        self.count = 0

    async def mixed_step(self) -> int:
        roll = self.random.random()
        self.count += 1
        if roll < 0.3 or not self.customers:
            body = {"DisplayName": f"Bench {self.seed}-{self.count}"}
            return await self.create("customer", body, self.customers, "Customer")
        if roll < 0.5:
            body = {
                "CustomerRef": {"value": self.random.choice(self.customers)},
                "Line": [
                    {
                        "Amount": self.random.randint(10, 900),
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            }
            return await self.create("invoice", body, self.invoices, "Invoice")
        if roll < 0.8:
            kind, ids = (
                ("invoice", self.invoices) if self.invoices else ("customer", self.customers)
            )
            status, _ = await self.connection.request(
                "GET", f"{self.base}/{kind}/{self.random.choice(ids)}?minorversion=75"
            )
            return status
        sql = "SELECT * FROM Invoice WHERE TotalAmt > '500' ORDERBY TxnDate DESC MAXRESULTS 20"
        status, _ = await self.connection.request(
            "POST", f"{self.base}/query?minorversion=75", sql.encode(), "application/text"
        )
        return status

    async def create(self, kind: str, body: dict, ids: list[str], entity: str) -> int:
        status, payload = await self.connection.request(
            "POST", f"{self.base}/{kind}?minorversion=75", json.dumps(body).encode()
        )
        if status == 200:
            ids.append(json.loads(payload)[entity]["Id"])
        return status

    async def read_step(self) -> int:
        status, _ = await self.connection.request("GET", f"{self.base}/preferences?minorversion=75")
        return status


async def drive(
    workers: list[Worker], seconds: float, step: str
) -> tuple[Counter, list[float], int]:
    statuses: Counter = Counter()
    latencies: list[float] = []
    in_flight = peak = 0
    deadline = time.monotonic() + seconds

    async def loop(worker: Worker) -> None:
        nonlocal in_flight, peak
        while time.monotonic() < deadline:
            started = time.monotonic()
            in_flight += 1
            peak = max(peak, in_flight)
            status = await getattr(worker, step)()
            in_flight -= 1
            statuses[status] += 1
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(loop(w) for w in workers))
    for worker in workers:
        worker.connection.close()
    return statuses, latencies, peak


def make_workers(url: str, port: int, count: int) -> list[Worker]:
    realms = [
        control(url, "POST", "realms", {"name": f"Bench {i}"})["realm_id"]
        for i in range((count + PER_REALM - 1) // PER_REALM)
    ]
    tokens = {r: control(url, "POST", f"realms/{r}/tokens")["access_token"] for r in realms}
    return [
        Worker(port, realms[i // PER_REALM], tokens[realms[i // PER_REALM]], i)
        for i in range(count)
    ]


def report(
    title: str, statuses: Counter, latencies: list[float], seconds: float, peak: int
) -> None:
    total = sum(statuses.values())
    p50 = statistics.median(latencies) * 1000 if latencies else 0
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 100 else 0
    print(
        f"{title}: {total / seconds:,.0f} req/s over {seconds:.0f} s ({total} requests), "
        f"peak in flight {peak}, p50 {p50:.1f} ms, p99 {p99:.1f} ms, statuses {dict(statuses)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=40)
    parser.add_argument("--inflight", type=int, default=250)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = start(port)
    try:
        workers = make_workers(url, port, args.workers)
        result = asyncio.run(drive(workers, args.seconds, "mixed_step"))
        report(
            "mixed (30% create customer, 20% create invoice, 30% read, 20% query)",
            result[0],
            result[1],
            args.seconds,
            result[2],
        )
        control(url, "PUT", "faults", {"latency_ms": 200})
        workers = make_workers(url, port, args.inflight)
        result = asyncio.run(drive(workers, args.seconds, "read_step"))
        report("reads under 200 ms injected latency", result[0], result[1], args.seconds, result[2])
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
