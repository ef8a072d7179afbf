"""`bertkit serve`: the arguments, the models they name, and uvicorn.

One process (`--workers 1`) loads the models and serves them; `--workers N` has uvicorn start N
processes, each loading the models and taking connections on the same port (the kernel spreads them).
SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish (up to
--graceful-timeout seconds), then exits 0.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import paths
from ..cliargs import OptionError, arg

ENV = "BERTKIT_SERVE_ARGS"  # the arguments, as JSON, for the worker processes of --workers N


@dataclass
class ServeArgs:
    """Serve models over HTTP (FastAPI on uvicorn): /embed, /v1/embeddings, /predict, /tokenize, /health,
    /info, /metrics. Requests that arrive together are batched (within --max-batch-tokens); see
    docs/deploy.md."""
    model: list[str] = arg([], "a model folder, or NAME=FOLDER to serve it as NAME; repeat to serve several "
                               "(the first is the default; requests choose with \"model\"). A folder without "
                               "a fine-tuned head serves /embed, a fine-tuned one /predict (default: "
                               "all-MiniLM-L6-v2 from make data)", action="append")
    host: str = arg("127.0.0.1", "address to listen on; 0.0.0.0 listens on every interface (put a proxy or "
                                 "firewall in front)")
    port: int = arg(8080, "TCP port")
    workers: int = arg(1, "processes, each with its own copy of the models and its share of --threads")
    threads: int = arg(0, "PyTorch / onnxruntime threads per process (0: the cores divided among the workers)")
    engine: str = arg("torch", "torch (the model's PyTorch fast path) or onnx (an exported file through "
                               "onnxruntime; see bertkit export)")
    onnx: str | None = arg(None, "with --engine onnx and one model: the exported file (default: "
                                 "<model>/model.onnx)")
    dtype: str = arg("fp32", "fp32 or bf16 (autocast; torch engine)")
    max_batch_tokens: int = arg(16384, "most tokens in one forward pass (rows × the longest row)")
    max_batch_requests: int | None = arg(None, "most requests in one call of the model (default: as many as "
                                               "--max-batch-tokens holds); smaller calls let the next requests be "
                                               "read while the model computes")
    max_batch_wait_ms: float = arg(5.0, "while more requests are in flight than queued, a batch waits this long "
                                        "at most for the others (0: never; one client never waits)")
    max_concurrent_requests: int = arg(512, "inference requests answered at once; more get 429 with "
                                            "Retry-After")
    max_client_batch_size: int = arg(32, "most inputs in one request; more get 413")
    max_input_length: int | None = arg(None, "most tokens in one input (default: the model's positions); "
                                             "longer inputs get 413 unless truncated")
    auto_truncate: bool = arg(False, "cut inputs longer than --max-input-length instead of refusing them (a "
                                     "request's \"truncate\" field overrides it)")
    payload_limit: int = arg(2_000_000, "most bytes in a request body; more get 413")
    graceful_timeout: float = arg(30.0, "on SIGTERM, seconds to let requests in flight finish")
    access_log: bool = arg(False, "log every request (uvicorn's access log)")
    log_level: str = arg("info", "uvicorn's log level: critical, error, warning, info, debug")


LIMITS = {"port": ((lambda v: 0 <= v <= 65535), "must be between 0 and 65535"),
          "workers": ((lambda v: v >= 1), "must be at least 1"),
          "max_batch_tokens": ((lambda v: v >= 1), "must be at least 1"),
          "max_batch_requests": ((lambda v: v >= 1), "must be at least 1"),
          "max_concurrent_requests": ((lambda v: v >= 1), "must be at least 1"),
          "max_client_batch_size": ((lambda v: v >= 1), "must be at least 1"),
          "max_input_length": ((lambda v: v >= 2), "must be at least 2 (room for [CLS] and [SEP])"),
          "payload_limit": ((lambda v: v >= 1), "must be at least 1"),
          "graceful_timeout": ((lambda v: v >= 0), "must be at least 0"),
          "max_batch_wait_ms": ((lambda v: 0 <= v <= 1000), "must be between 0 and 1000")}
CHOICES = {"engine": ("torch", "onnx"), "dtype": ("fp32", "bf16"),
           "log_level": ("critical", "error", "warning", "info", "debug")}


def model_specs(specs: list[str]) -> list[tuple[str, Path]]:
    """--model values → (name, folder): FOLDER (named after it) or NAME=FOLDER. OptionError for a name
    used twice or a folder that is not there."""
    out: list[tuple[str, Path]] = []
    for spec in specs or [str(paths.MINILM)]:
        name, sep, folder = spec.partition("=")
        if not sep or Path(spec).is_dir():
            name, folder = Path(spec).name or spec, spec
        if not name or not folder:
            raise OptionError(f"--model {spec!r}: give a folder, or NAME=FOLDER")
        if not Path(folder).is_dir():
            raise OptionError(f"--model {spec}: {folder}: no such folder; check the path (make data fetches the "
                              "default model)")
        if any(n == name for n, _ in out):
            raise OptionError(f"--model {spec}: the name {name!r} is given twice; give each model its own NAME "
                              "(NAME=FOLDER)")
        out.append((name, Path(folder)))
    return out


def load_models(a: ServeArgs, metrics=None) -> dict:
    from .served import Limits, ServedModel
    limits = Limits(a.max_batch_tokens, a.max_client_batch_size, a.max_input_length, a.auto_truncate,
                    a.max_batch_wait_ms, a.max_batch_requests)
    return {name: ServedModel(name, folder, limits, a.engine, a.onnx, a.dtype, metrics)
            for name, folder in model_specs(a.model)}


def build_app(a: ServeArgs):
    """The app for `a`: models loaded, threads set (the work of each process)."""
    import torch

    from .app import ServerLimits, create_app
    from .metrics import Metrics
    threads = a.threads or max(1, (os.cpu_count() or 1) // a.workers)
    torch.set_num_threads(threads)
    metrics = Metrics()
    models = load_models(a, metrics)
    return create_app(models, ServerLimits(a.max_concurrent_requests, a.payload_limit), metrics)


def app_from_env():
    """uvicorn's factory in each worker process of --workers N: the arguments come from the environment."""
    return build_app(ServeArgs(**json.loads(os.environ[ENV])))


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except socket.gaierror:
            raise OptionError(f"--host {host}: not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
        except OSError as e:
            raise OptionError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror}); choose another "
                              "port or stop what uses it") from None


def serve_cli(a: ServeArgs) -> None:
    import uvicorn

    specs = model_specs(a.model)
    if a.onnx is not None and (a.engine != "onnx" or len(specs) > 1):
        raise OptionError("--onnx: only with --engine onnx and one --model (several models each use "
                          "<model>/model.onnx)")
    if a.engine == "onnx" and a.dtype != "fp32":
        raise OptionError(f"--dtype {a.dtype}: the onnx engine runs the exported file as it is; leave --dtype out")
    _check_port(a.host, a.port)
    common = dict(host=a.host, port=a.port, log_level=a.log_level, access_log=a.access_log,
                  timeout_graceful_shutdown=a.graceful_timeout)
    # uvicorn re-raises the signal that stopped it once it has drained; a handler of our own makes that
    # a plain return, so a stop by SIGTERM or Ctrl-C exits 0 after the requests in flight are answered
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    where = f"http://{a.host}:{a.port}"
    if a.workers == 1:
        app = build_app(a)  # errors in a folder are one line here, before the port is taken
        names = ", ".join(f"{m.name} ({m.task}, {m.engine})" for m in app.server.models.values())
        print(f"bertkit serve: {names} on {where}; stop with Ctrl-C or SIGTERM", file=sys.stderr)
        uvicorn.run(app, **common)
    else:
        load_models(a)  # once here, so a bad folder is one line before any worker starts
        os.environ[ENV] = json.dumps(asdict(a))
        print(f"bertkit serve: {a.workers} workers on {where}; stop with Ctrl-C or SIGTERM", file=sys.stderr)
        uvicorn.run("bertkit.serve.cli:app_from_env", factory=True, workers=a.workers, **common)
    print("bertkit serve: stopped", file=sys.stderr)
