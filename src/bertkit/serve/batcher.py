"""Dynamic batching: requests that arrive together share forward passes.

Each request hands the batcher its inputs (already checked and tokenized) and awaits a future. One loop
per model takes every job waiting in the queue, up to `max_batch_tokens` tokens (at least one job, however
large), and runs them in one call of `run` on a single worker thread, so the event loop keeps accepting
requests while the model computes. While that call runs, new requests queue up; the next call takes them
all. Under light load a request runs alone, at once (no waiting window); under heavy load batches fill up
to the budget. `run` maps a list of inputs to a list of results in the same order, and each job gets back
exactly the slice that holds its own inputs.

One refinement: the loop expects as many requests as the server is answering (`expected()`) or as the
last call held, whichever is more, and waits for them, at most `max_wait` seconds. Without it, a steady
load of N clients settles into a batch of 1 (the first client to come back) followed by a batch of N - 1,
and the forward pass of one input costs a third of the pass of 32 here. A lone client never waits (its
last call held one request); when the load drops, one wait of `max_wait` sets the expectation lower.

The same idea as text-embeddings-inference's queue (github.com/huggingface/text-embeddings-inference,
router/src/infer.rs, core/src/queue.rs): a token budget per batch, the order of arrival kept.
"""
from __future__ import annotations

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass
class Job:
    items: Sequence[Any]  # one request's inputs
    tokens: int  # their tokens, the budget's unit
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


class Batcher:
    """Merge concurrent requests into calls of `run(items) -> results` (one result per item, in order).

    `run` is called on one worker thread, never two at once (a PyTorch or onnxruntime model uses all the
    cores it is given on each call). `on_wait(seconds)` is told how long each job queued; `queued` is the
    number of inputs waiting (the /metrics gauge)."""

    def __init__(self, run: Callable[[list], list], max_batch_tokens: int, name: str = "model",
                 on_wait: Callable[[float], None] | None = None, expected: Callable[[], int] | None = None,
                 max_wait: float = 0.0, max_requests: int | None = None):
        self.run = run
        self.max_batch_tokens = max_batch_tokens
        self.max_requests = max_requests  # requests per call (None: as many as the token budget holds)
        self.on_wait = on_wait
        self.expected = expected
        self.max_wait = max_wait
        self._last_jobs = 1  # requests in the last call: the steady load to expect
        self._jobs: collections.deque[Job] = collections.deque()
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"bertkit-{name}")

    @property
    def queued(self) -> int:
        return sum(len(j.items) for j in self._jobs)

    def start(self) -> None:
        """Start the loop on the running event loop (the app's startup)."""
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Finish every queued job, then stop (the app's shutdown, after in-flight requests drained)."""
        while self._jobs:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def submit(self, items: Sequence[Any], tokens: int) -> list:
        """The results of `run` for `items`, in order, once a batch that holds them has run. An exception
        raised by `run` is raised here, in every request of that batch."""
        if self._ready is None:
            raise RuntimeError("Batcher.start() was not called")
        job = Job(items, tokens, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._ready.set()
        return await job.future

    def _take(self) -> list[Job]:
        """The jobs of the next call: in arrival order, while they fit the token budget (the first always)."""
        jobs, tokens = [], 0
        while self._jobs and (not jobs or (tokens + self._jobs[0].tokens <= self.max_batch_tokens
                                           and (self.max_requests is None or len(jobs) < self.max_requests))):
            job = self._jobs.popleft()
            tokens += job.tokens
            if not job.future.done():  # a caller that went away (cancelled) is skipped
                jobs.append(job)
        return jobs

    async def _gather(self) -> None:
        """Wait (at most max_wait) while requests in flight have not all queued and the budget has room."""
        if self.max_wait <= 0:
            return
        want = max(self.expected() if self.expected is not None else 0, self._last_jobs)
        if self.max_requests is not None:
            want = min(want, self.max_requests)
        deadline = time.perf_counter() + self.max_wait
        while (len(self._jobs) < want and sum(j.tokens for j in self._jobs) < self.max_batch_tokens
               and time.perf_counter() < deadline):
            await asyncio.sleep(0.0002)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._jobs:
                await self._gather()
                jobs = self._take()
                if not jobs:
                    continue
                self._last_jobs = len(jobs)
                now = time.perf_counter()
                if self.on_wait is not None:
                    for j in jobs:
                        self.on_wait(now - j.queued_at)
                items = [x for j in jobs for x in j.items]
                try:
                    results = await loop.run_in_executor(self._executor, self.run, items)
                    if len(results) != len(items):
                        raise RuntimeError(f"run gave {len(results)} results for {len(items)} inputs")
                except Exception as e:  # every caller of the batch hears of it
                    for j in jobs:
                        if not j.future.done():
                            j.future.set_exception(e)
                    continue
                start = 0
                for j in jobs:  # each caller gets exactly its own rows
                    n = len(j.items)
                    if not j.future.done():
                        j.future.set_result(results[start:start + n])
                    start += n
