"""A bounded load generator for a bertkit server on this machine (benchmarks/serve.py and the tests).

`run_load(url, bodies, concurrency, deadline)` keeps `concurrency` requests in flight until every body
has been sent once or `deadline` seconds have passed, and returns one Result per body sent, with its
status, latency and parsed JSON. Only loopback addresses are allowed: this is a measuring tool, not a
way to load someone else's server.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import urlparse

LOOPBACK = ("127.0.0.1", "localhost", "::1")
JSON = {"content-type": "application/json"}


@dataclass
class Result:
    index: int  # which body
    status: int  # HTTP status; 0 for a connection error
    seconds: float
    content: bytes = b""  # the answer as sent (parsed only when asked: parsing while measuring slows the client)
    retry_after: str | None = None
    error: str | None = None  # a connection error
    started: float = 0.0  # time.perf_counter() when it was sent

    @property
    def body(self) -> Any:
        """The answer's JSON."""
        return json.loads(self.content) if self.content else None


@dataclass
class LoadReport:
    results: list[Result]
    seconds: float  # wall time of the whole run
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == 200]

    def percentile(self, q: float) -> float:
        """Latency (seconds) of the successful requests at quantile q in [0, 1]."""
        xs = sorted(r.seconds for r in self.ok)
        if not xs:
            return float("nan")
        if len(xs) == 1:
            return xs[0]
        return statistics.quantiles(xs, n=1000, method="inclusive")[min(998, max(0, round(q * 1000) - 1))]

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return len(self.ok) / self.seconds if self.seconds else 0.0


def check_local(url: str) -> None:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"{url}: the load generator only targets this machine ({', '.join(LOOPBACK)})")


async def _run(url: str, bodies: Sequence[dict], concurrency: int, deadline: float, timeout: float) -> LoadReport:
    import aiohttp  # its client costs a fraction of httpx's CPU per request, which matters on a shared CPU
    check_local(url)
    results: list[Result] = []
    payloads = [json.dumps(b).encode() for b in bodies]  # encoded before the clock starts
    next_index = 0
    stop_at = time.perf_counter() + deadline

    async def worker(session):
        nonlocal next_index
        while next_index < len(bodies) and time.perf_counter() < stop_at:
            i = next_index
            next_index += 1
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=payloads[i], headers=JSON) as r:
                    content = await r.read()
                    results.append(Result(i, r.status, time.perf_counter() - t0, content,
                                          r.headers.get("retry-after"), started=t0))
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                results.append(Result(i, 0, time.perf_counter() - t0, error=repr(e), started=t0))

    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    report = LoadReport(sorted(results, key=lambda r: r.index), time.perf_counter() - t0)
    for r in report.results:
        report.statuses[r.status] = report.statuses.get(r.status, 0) + 1
    return report


def run_load(url: str, bodies: Sequence[dict], concurrency: int, deadline: float = 300.0,
             timeout: float = 120.0) -> LoadReport:
    """POST each of `bodies` to `url` once, `concurrency` at a time, for at most `deadline` seconds."""
    return asyncio.run(_run(url, bodies, concurrency, deadline, timeout))


def wait_ready(base: str, seconds: float = 120.0, proc=None) -> None:
    """Poll GET <base>/health until it answers 200; RuntimeError after `seconds` or if `proc` exits."""
    check_local(base)
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            if get(base + "/health", 2).status == 200:
                return
        except OSError:  # refused, reset, timed out: not up yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base}/health did not answer within {seconds} s")


def histogram(metrics_text: str, name: str) -> dict[str, float]:
    """The cumulative bucket counts {le: count} of a Prometheus histogram in /metrics text (summed over
    label sets other than `le`)."""
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith(name + "_bucket{"):
            labels, value = line[len(name) + 8:].rsplit("} ", 1)
            le = next(p.split("=", 1)[1].strip('"') for p in labels.split(",") if p.startswith("le="))
            out[le] = out.get(le, 0.0) + float(value)
    return out


def bucket_counts(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Per-bucket counts (not cumulative) of what happened between two histogram readings."""
    keys = sorted(after, key=lambda k: float("inf") if k == "+Inf" else float(k))
    out, prev = {}, 0.0
    for k in keys:
        cum = after[k] - before.get(k, 0.0)
        out[k] = int(round(cum - prev))
        prev = cum
    return {k: v for k, v in out.items() if v}


def get(url: str, timeout: float = 10.0):
    """GET `url` (on this machine) with the standard library; the response object."""
    import urllib.request
    check_local(url)
    return urllib.request.urlopen(url, timeout=timeout)


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`bertkit serve ARGS` on 127.0.0.1 in a child process, ready when entered, stopped (SIGTERM) on exit.

        with ServerProcess(["--model", "minilm"]) as server:
            run_load(server.url + "/embed", bodies, 32)
    """

    def __init__(self, args: Sequence[str], port: int | None = None, env: dict | None = None,
                 ready_seconds: float = 180.0, log=None):
        import os
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = ["--host", "127.0.0.1", "--port", str(self.port), *args]
        self.env = {**os.environ, **(env or {})}
        self.ready_seconds = ready_seconds
        self.log = log
        self.proc = None

    def __enter__(self) -> "ServerProcess":
        import subprocess
        import sys
        self.proc = subprocess.Popen([sys.executable, "-m", "bertkit", "serve", *self.args], env=self.env,
                                     stdout=self.log or subprocess.DEVNULL, stderr=self.log or subprocess.DEVNULL)
        try:
            wait_ready(self.url, self.ready_seconds, self.proc)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit; the exit code (-9 if it had to be killed)."""
        import signal
        import subprocess
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()

    def metrics(self) -> str:
        return get(self.url + "/metrics").read().decode("utf-8")
