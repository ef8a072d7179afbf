"""The server's Prometheus metrics (prometheus_client), in a registry of the app's own.

`GET /metrics` gives them in Prometheus' text format:
- bertkit_requests_total{route, status}: requests answered, by route and HTTP status (429 = overloaded);
- bertkit_request_duration_seconds{route}: latency, from the request's arrival to its response;
- bertkit_queue_duration_seconds{model}: time a request's inputs waited for a batch;
- bertkit_batch_inputs{model} and bertkit_batch_tokens{model}: the size of each forward pass (inputs, and
  tokens with the padding of its longest row);
- bertkit_inference_duration_seconds{model}: the time of each forward pass;
- bertkit_queue_inputs{model} (gauge): inputs waiting; bertkit_requests_in_flight (gauge).

With `--workers N` each process keeps its own numbers; /metrics shows those of the process that answers.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no *_created series: they double the output and say only when the server started

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class Metrics:
    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("bertkit_requests", "Requests answered, by route and HTTP status",
                                ["route", "status"], registry=r)
        self.latency = Histogram("bertkit_request_duration_seconds", "Request latency in seconds", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_time = Histogram("bertkit_queue_duration_seconds", "Seconds a request waited for a batch",
                                    ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_inputs = Histogram("bertkit_batch_inputs", "Inputs per forward pass", ["model"],
                                      buckets=BATCH_BUCKETS, registry=r)
        self.batch_tokens = Histogram("bertkit_batch_tokens", "Padded tokens per forward pass", ["model"],
                                      buckets=TOKEN_BUCKETS, registry=r)
        self.inference_time = Histogram("bertkit_inference_duration_seconds", "Seconds per forward pass",
                                        ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.queued = Gauge("bertkit_queue_inputs", "Inputs waiting for a batch", ["model"], registry=r)
        self.in_flight = Gauge("bertkit_requests_in_flight", "Requests being answered", registry=r)

    def batch(self, model: str, inputs: int, tokens: int, seconds: float) -> None:
        """Record one forward pass (called from the model's worker thread; prometheus_client is thread-safe)."""
        self.batch_inputs.labels(model).observe(inputs)
        self.batch_tokens.labels(model).observe(tokens)
        self.inference_time.labels(model).observe(seconds)
