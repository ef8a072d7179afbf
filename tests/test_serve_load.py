"""`bertkit serve` as a process under load, on all-MiniLM-L6-v2 and Rotten Tomatoes / WNUT text (slow tier):
- 1,000 requests at concurrency 32: every answer equals the offline `embed` / `predict` for its text
  (cosine >= 0.99999; the same labels and entity spans), 0 errors;
- concurrency 128 against --max-concurrent-requests 32: the excess gets 429 with Retry-After, every
  request is answered exactly once, and the server serves normally as soon as the load drops;
- SIGTERM during load: the requests in flight are answered, then the process exits 0.
Speed is measured by benchmarks/serve.py, never asserted here."""
import json
import signal
import threading
import time

import numpy as np
import pytest

from bertkit.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi")

from bertkit.serve.loadgen import ServerProcess, bucket_counts, histogram, run_load  # noqa: E402


def rt_texts(rt_dir, n=1000):
    rows = [json.loads(line) for line in (rt_dir / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows[:n]]


@pytest.fixture(scope="module")
def tuned(minilm_dir, rt_dir, wnut_dir, tmp_path_factory):
    """MiniLM fine-tuned briefly for classify (RT) and ner (WNUT): real models whose answers differ by text."""
    root = tmp_path_factory.mktemp("tuned")
    common = ["--model", str(minilm_dir), "--epochs", "1", "--limit", "96", "--batch-size", "16", "--quiet"]
    main(["finetune", "--task", "classify", "--train", str(rt_dir / "train.jsonl"), "--out", str(root / "clf"),
          "--max-length", "64", *common])
    main(["finetune", "--task", "ner", "--train", str(wnut_dir / "train.conll"), "--out", str(root / "ner"),
          "--max-length", "64", *common])
    return {"clf": root / "clf", "ner": root / "ner"}


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_1000_requests_at_concurrency_32_equal_offline(minilm_dir, rt_dir, tuned, tmp_path, one_thread):
    from bertkit.inference import sentence_embeddings
    from bertkit.registry import AutoModel
    from bertkit.tasks.predictor import Predictor
    from bertkit.tokenization import AutoTokenizer
    texts = rt_texts(rt_dir)
    model = AutoModel.from_pretrained(minilm_dir, fresh=[])
    offline = sentence_embeddings(model, AutoTokenizer.from_pretrained(minilm_dir), texts).numpy()
    args = ["--model", f"minilm={minilm_dir}", "--model", f"clf={tuned['clf']}", "--model", f"ner={tuned['ner']}",
            "--threads", "2"]
    with ServerProcess(args) as server:
        before = histogram(server.metrics(), "bertkit_batch_inputs")
        r = run_load(server.url + "/embed", [{"inputs": t} for t in texts], 32)
        assert r.statuses == {200: 1000}
        assert [x.index for x in r.results] == list(range(1000))  # each answered once
        got = np.array([x.body[0] for x in r.results])
        assert cosines(got, offline).min() >= 0.99999
        merged = bucket_counts(before, histogram(server.metrics(), "bertkit_batch_inputs"))
        assert sum(merged.values()) < 1000  # requests shared forward passes

        clf = Predictor.load(tuned["clf"]).predict
        from bertkit.data.readers import ClassExample
        want = clf([ClassExample(t) for t in texts])
        r = run_load(server.url + "/predict", [{"inputs": t, "model": "clf"} for t in texts], 32)
        assert r.statuses == {200: 1000}
        assert [x.body["label"] for x in r.results] == [w["label"] for w in want]
        assert max(abs(x.body["score"] - w["score"]) for x, w in zip(r.results, want)) < 1e-4

        ner = Predictor.load(tuned["ner"]).predict
        want = ner(texts)
        r = run_load(server.url + "/predict", [{"inputs": t, "model": "ner"} for t in texts], 32)
        assert r.statuses == {200: 1000}
        spans = [[(e["type"], e["start"], e["end"]) for e in x.body["entities"]] for x in r.results]
        assert spans == [[(e["type"], e["start"], e["end"]) for e in w["entities"]] for w in want]
        assert sum(map(len, spans)) > 0  # the comparison covers real spans


def test_overload_gets_429_none_lost_and_recovers(minilm_dir, rt_dir):
    texts = rt_texts(rt_dir, 600)
    with ServerProcess(["--model", str(minilm_dir), "--max-concurrent-requests", "32", "--threads", "2"]) as server:
        r = run_load(server.url + "/embed", [{"inputs": t} for t in texts], 128)
        assert [x.index for x in r.results] == list(range(600))  # every request answered, once
        assert set(r.statuses) <= {200, 429} and r.statuses.get(429, 0) > 0, r.statuses
        assert all(x.retry_after == "1" for x in r.results if x.status == 429)
        assert all(len(x.body[0]) == 384 for x in r.results if x.status == 200)
        again = run_load(server.url + "/embed", [{"inputs": t} for t in texts[:100]], 8)
        assert again.statuses == {200: 100}  # recovered as soon as the load dropped
        metrics = server.metrics()
        assert f'bertkit_requests_total{{route="/embed",status="429"}} {float(r.statuses[429])}' in metrics


def test_sigterm_during_load_answers_in_flight_then_exits_0(minilm_dir, rt_dir, tmp_path):
    long = [" ".join([t] * 6) for t in rt_texts(rt_dir, 400)]  # slow enough to be caught in flight
    log = open(tmp_path / "server.log", "w")
    server = ServerProcess(["--model", str(minilm_dir), "--threads", "2", "--max-batch-tokens", "2048",
                            "--auto-truncate"], log=log).__enter__()
    box = {}
    load = threading.Thread(target=lambda: box.setdefault("r", run_load(server.url + "/embed",
                                                                         [{"inputs": t} for t in long], 32)))
    load.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until requests are in flight
        if "bertkit_requests_in_flight 32.0" in server.metrics():
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the first 32 began well before the signal (and take seconds to answer)
    sent_at = time.perf_counter()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(120)
    load.join(120)
    log.close()
    assert code == 0, (tmp_path / "server.log").read_text()
    r = box["r"]
    in_flight = [x for x in r.results if x.started < sent_at - 0.2]
    assert len(in_flight) >= 32
    assert all(x.status == 200 for x in in_flight), [(x.status, x.error) for x in in_flight if x.status != 200][:3]
    assert all(x.status in (200, 0) for x in r.results)  # after the stop: refused connections, never a 5xx
    assert "stopped" in (tmp_path / "server.log").read_text()


def test_two_workers_serve_and_stop_on_sigterm(minilm_dir, rt_dir, tmp_path):
    texts = rt_texts(rt_dir, 64)
    log = open(tmp_path / "server.log", "w")
    server = ServerProcess(["--model", str(minilm_dir), "--workers", "2"], log=log).__enter__()
    r = run_load(server.url + "/embed", [{"inputs": t} for t in texts], 8)
    code = server.stop()
    log.close()
    assert r.statuses == {200: 64}
    text = (tmp_path / "server.log").read_text()
    assert code == 0 and text.count("Application startup complete") == 2, text
