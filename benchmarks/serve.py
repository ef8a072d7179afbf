"""`bertkit serve` under load on this machine, beside the offline `bertkit embed` of the same texts.

    python benchmarks/serve.py                      # torch engine, concurrency 1, 8, 32, 128
    python benchmarks/serve.py --engines torch onnx onnx-int8   # also the exported files (bertkit export)
    python benchmarks/serve.py --quick              # 200 requests per level

Each request embeds one Rotten Tomatoes test sentence (all-MiniLM-L6-v2, mean pooling, fp32). For every
engine a server is started on 127.0.0.1 in a child process (`--threads` each, default 2), and a bounded
load generator (bertkit.serve.loadgen: at most --requests requests and --seconds seconds per level, to
127.0.0.1 only) keeps `concurrency` requests in flight. Reported per level: requests/s and real
tokens/s, latency p50/p95/p99 of the answered requests, the statuses, and the histogram of forward-pass
sizes read from the server's /metrics before and after. "offline" is `sentence_embeddings` (what
`bertkit embed` runs) on the same texts in this process, with the same threads, batch 32, best of 3.
The load generator shares the machine's cores with the server: its own CPU time is part of the cost.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bertkit.paths import DATA, MINILM  # noqa: E402
from bertkit.serve.loadgen import ServerProcess, bucket_counts, histogram, run_load  # noqa: E402


def texts_of(n: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "rt" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in rows]
    return (texts * (n // len(texts) + 1))[:n]


def offline(model_dir: Path, texts: list[str], threads: int, engine: str, onnx_file: Path | None) -> float:
    """Texts per second of the offline embedding path (best of 3)."""
    import torch

    from bertkit.inference import sentence_embeddings
    from bertkit.tokenization import AutoTokenizer
    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if engine == "torch":
        from bertkit.registry import AutoModel
        model = AutoModel.from_pretrained(model_dir, fresh=[])
    else:
        from bertkit.export.runtime import load_model
        model = load_model(model_dir, "embed", "onnx", onnx_file)
    sentence_embeddings(model, tok, texts[:64])  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        sentence_embeddings(model, tok, texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def export(model_dir: Path, out: Path, int8: bool) -> Path:
    from bertkit.cli import main
    argv = ["export", "--format", "onnx", "--model", str(model_dir), "--out", str(out)]
    main(argv + (["--quantize", "int8"] if int8 else []))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(MINILM))
    p.add_argument("--engines", nargs="+", default=["torch"], choices=["torch", "onnx", "onnx-int8"])
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 32, 128])
    p.add_argument("--requests", type=int, default=1000, help="requests per level (at concurrency 1: a third)")
    p.add_argument("--seconds", type=float, default=120.0, help="at most this long per level")
    p.add_argument("--threads", type=int, default=2, help="the server's torch / onnxruntime threads")
    p.add_argument("--quick", action="store_true", help="200 requests per level")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[],
                   help="the rest of the line goes to bertkit serve (e.g. --max-batch-requests 16)")
    a = p.parse_args()
    n = 200 if a.quick else a.requests
    model_dir = Path(a.model)
    texts = texts_of(n)
    from bertkit.tokenization import AutoTokenizer
    lengths = [len(x) for x in AutoTokenizer.from_pretrained(model_dir)(texts)["input_ids"]]
    print(f"{n} requests of one sentence each (mean {sum(lengths) / n:.1f} tokens), {a.threads} server threads, "
          f"{os.cpu_count()} cores", flush=True)
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="bertkit-serve-bench-"))
    for engine in a.engines:
        onnx_file = None
        if engine != "torch":
            onnx_file = export(model_dir, tmp / f"{engine}.onnx", engine == "onnx-int8")
        args = ["--model", str(model_dir), "--threads", str(a.threads), "--log-level", "warning", *a.serve_args]
        if onnx_file is not None:
            args += ["--engine", "onnx", "--onnx", str(onnx_file)]
        rate = offline(model_dir, texts, a.threads, "torch" if engine == "torch" else "onnx", onnx_file)
        print(f"\n{engine}: offline embed {rate:.1f} texts/s ({rate * sum(lengths) / n:.0f} tokens/s)", flush=True)
        print(f"{'conc':>5} {'req/s':>7} {'tok/s':>7} {'x offline':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  "
              "statuses; forward-pass sizes (inputs: passes)", flush=True)
        with ServerProcess(args) as server:
            run_load(server.url + "/embed", [{"inputs": t} for t in texts[:64]], 8)  # warm-up
            for conc in a.concurrency:
                count = max(n // 3, 50) if conc == 1 else n
                before = histogram(server.metrics(), "bertkit_batch_inputs")
                r = run_load(server.url + "/embed", [{"inputs": t} for t in texts[:count]], conc, a.seconds)
                sizes = bucket_counts(before, histogram(server.metrics(), "bertkit_batch_inputs"))
                tok_s = sum(lengths[x.index] for x in r.ok) / r.seconds
                row = {"engine": engine, "concurrency": conc, "requests": len(r.results), "rps": r.throughput,
                       "tokens_per_s": tok_s, "offline_rps": rate, "p50": r.percentile(0.5),
                       "p95": r.percentile(0.95), "p99": r.percentile(0.99), "statuses": r.statuses,
                       "batch_sizes": sizes}
                results.append(row)
                print(f"{conc:>5} {r.throughput:>7.1f} {tok_s:>7.0f} {r.throughput / rate:>9.2f} "
                      f"{row['p50'] * 1e3:>8.1f} {row['p95'] * 1e3:>8.1f} {row['p99'] * 1e3:>8.1f}  "
                      f"{r.statuses}; " + ", ".join(f"≤{k}: {v}" for k, v in sizes.items()), flush=True)
        by = {x["concurrency"]: x for x in results if x["engine"] == engine}
        if 1 in by and 32 in by:
            print(f"{engine}: concurrency 32 / 1 = {by[32]['rps'] / by[1]['rps']:.2f}x; "
                  f"32 / offline = {by[32]['rps'] / rate:.2f}x", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
