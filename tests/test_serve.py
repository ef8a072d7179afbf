"""`bertkit serve` in-process (tiny random models, starlette's TestClient): every route's answer equals
what the offline path gives for the same input; the bad-request suite (each a 4xx with a message, and a
good request right after still works); the bounds (429 with Retry-After, 413); the batcher's merging;
/metrics; the command's option errors."""
import asyncio
import base64
import socket

import numpy as np
import pytest
import torch

from _finetune_util import cli_error, task_folders
from bertkit.data.readers import ClassExample, QAExample
from bertkit.inference import sentence_embeddings
from bertkit.registry import AutoModel
from bertkit.tasks.predictor import Predictor
from bertkit.tokenization import AutoTokenizer

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from bertkit.serve.app import ServerLimits, create_app  # noqa: E402
from bertkit.serve.batcher import Batcher  # noqa: E402
from bertkit.serve.metrics import Metrics  # noqa: E402
from bertkit.serve.served import Limits, ServedModel  # noqa: E402

TEXTS = ["the movie was good .", "a bad film", "john visited paris and mary works at google .",
         "the cat sat on the mat", "this is a very great movie , not an awful one !"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    f = task_folders(tmp_path_factory.mktemp("serve"))
    return {"emb": f["base"], "clf": f["classify"], "pclf": f["pair_classify"], "ner": f["ner"], "qa": f["qa"]}


LIMITS = Limits(max_batch_tokens=256, max_client_batch_size=4, max_input_length=24)


@pytest.fixture(scope="module")
def app(folders):
    metrics = Metrics()
    models = {name: ServedModel(name, folder, LIMITS, metrics=metrics) for name, folder in folders.items()}
    return create_app(models, ServerLimits(max_concurrent_requests=8, payload_limit=4000), metrics)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:  # runs the lifespan: the batchers start and stop with it
        yield c


def cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- answers equal the offline path -------------------------------------------------------------------

def test_embed_equals_offline_embed(client, folders):
    model = AutoModel.from_pretrained(folders["emb"], fresh=[])
    tok = AutoTokenizer.from_pretrained(folders["emb"])
    offline = sentence_embeddings(model, tok, TEXTS)
    r = client.post("/embed", json={"inputs": TEXTS[:4]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got) == 4
    for v, ref in zip(got, offline[:4]):
        assert cos(v, ref) >= 0.99999 and abs(np.linalg.norm(v) - 1) < 1e-5
    one = client.post("/embed", json={"inputs": TEXTS[4]}).json()
    assert len(one) == 1 and cos(one[0], offline[4]) >= 0.99999
    # base64: little-endian float32 of the same vectors
    b64 = client.post("/embed", json={"inputs": TEXTS[:2], "encoding_format": "base64"}).json()
    for s, v in zip(b64, got):
        np.testing.assert_allclose(np.frombuffer(base64.b64decode(s), "<f4"), v, atol=1e-7)


def test_embed_pooling_and_normalize(client, folders):
    model = AutoModel.from_pretrained(folders["emb"], fresh=[]).eval()
    tok = AutoTokenizer.from_pretrained(folders["emb"])
    enc = tok([TEXTS[2]], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state[0]  # (T, C)
    cls = client.post("/embed", json={"inputs": TEXTS[2], "pooling": "cls", "normalize": False}).json()[0]
    np.testing.assert_allclose(cls, hidden[0].numpy(), atol=1e-5)
    mean = client.post("/embed", json={"inputs": TEXTS[2], "normalize": False}).json()[0]
    np.testing.assert_allclose(mean, hidden.mean(0).numpy(), atol=1e-5)
    tokens = client.post("/embed", json={"inputs": TEXTS[2], "pooling": "none", "normalize": False}).json()[0]
    assert len(tokens) == hidden.shape[0]
    np.testing.assert_allclose(tokens, hidden.numpy(), atol=1e-5)


def test_openai_embeddings_and_models(client, folders):
    r = client.post("/v1/embeddings", json={"input": TEXTS[:2], "model": "emb"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "emb"
    assert [d["index"] for d in body["data"]] == [0, 1] and all(d["object"] == "embedding" for d in body["data"])
    ref = client.post("/embed", json={"inputs": TEXTS[:2]}).json()
    for d, v in zip(body["data"], ref):
        assert cos(d["embedding"], v) >= 0.99999
    tok = AutoTokenizer.from_pretrained(folders["emb"])
    assert body["usage"]["prompt_tokens"] == sum(len(x) for x in tok(TEXTS[:2])["input_ids"])
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["emb", "clf", "pclf", "ner", "qa"]


def test_predict_equals_offline_predict(client, folders):
    clf = Predictor.load(folders["clf"])
    want = clf.predict([ClassExample(t) for t in TEXTS[:3]])
    r = client.post("/predict", json={"inputs": TEXTS[:3], "model": "clf"})
    assert r.status_code == 200, r.text
    assert [x["label"] for x in r.json()] == [x["label"] for x in want]
    for got, ref in zip(r.json(), want):
        assert got["score"] == pytest.approx(ref["score"], abs=1e-5)
    single = client.post("/predict", json={"inputs": TEXTS[0], "model": "clf"}).json()
    assert isinstance(single, dict) and single["label"] == want[0]["label"]

    pclf = Predictor.load(folders["pclf"])
    want = pclf.predict([ClassExample("good movie", "great")])[0]
    got = client.post("/predict", json={"inputs": ["good movie", "great"], "model": "pclf"}).json()
    assert got["label"] == want["label"] and got["text_pair"] == "great"

    ner = Predictor.load(folders["ner"])
    want = ner.predict(TEXTS[2:4])
    got = client.post("/predict", json={"inputs": TEXTS[2:4], "model": "ner"}).json()
    assert [g["entities"] for g in got] == [w["entities"] for w in want]
    for g in got:  # offsets slice the text
        assert all(g["text"][e["start"]:e["end"]] == e["text"] for e in g["entities"])

    qa = Predictor.load(folders["qa"])
    q = {"question": "who visited paris ?", "context": TEXTS[2]}
    want = qa.predict([QAExample("0", q["question"], q["context"])])[0]
    got = client.post("/predict", json={"inputs": q, "model": "qa"}).json()
    assert (got["answer"], got["start"], got["end"]) == (want["answer"], want["start"], want["end"])


def test_tokenize_gives_ids_and_spans(client, folders):
    tok = AutoTokenizer.from_pretrained(folders["emb"])
    text = "John visited Paris!"
    rows = client.post("/tokenize", json={"inputs": text}).json()[0]
    enc = tok(text, return_offsets_mapping=True)
    assert [t["id"] for t in rows] == enc["input_ids"]
    assert rows[0]["special"] and rows[0]["start"] is None and rows[-1]["special"]
    for t, (s, e) in zip(rows[1:-1], enc["offset_mapping"][1:-1]):
        assert (t["start"], t["stop"], t["text"]) == (s, e, text[s:e]) and not t["special"]
    bare = client.post("/tokenize", json={"inputs": [text], "add_special_tokens": False}).json()[0]
    assert [t["id"] for t in bare] == enc["input_ids"][1:-1]


def test_truncate_cuts_instead_of_refusing(client, folders):
    long = " ".join(["good"] * 40)
    assert client.post("/embed", json={"inputs": long}).status_code == 413
    r = client.post("/embed", json={"inputs": long, "truncate": True})
    assert r.status_code == 200
    model = AutoModel.from_pretrained(folders["emb"], fresh=[])
    tok = AutoTokenizer.from_pretrained(folders["emb"])
    ref = sentence_embeddings(model, tok, [long], max_length=LIMITS.max_input_length)[0]
    assert cos(r.json()[0], ref) >= 0.99999
    cut = client.post("/predict", json={"inputs": long, "truncate": True, "model": "ner"})
    assert cut.status_code == 200 and len(cut.json()["text"]) < len(long)


# -- bad requests: each a 4xx with a message, and the server keeps serving -------------------------------

GOOD = ("POST", "/embed", {"inputs": "a good movie"})
BAD = [  # (method, route, body: dict/list to send as JSON, or bytes as they are), status, words in the message
    (("POST", "/embed", b'{"inputs": "x"'), 422, "not valid JSON"),
    (("POST", "/embed", b"inputs=x"), 422, "not valid JSON"),
    (("POST", "/embed", b""), 422, "body: empty"),
    (("POST", "/embed", b'{"inputs": "caf\xe9"}'), 400, "not UTF-8"),
    (("POST", "/predict", b'\xff\xfe{}'), 400, "not UTF-8"),
    (("POST", "/embed", [1, 2]), 422, "JSON object"),
    (("POST", "/embed", "just a string"), 422, "JSON object"),
    (("POST", "/embed", {}), 422, "inputs: missing"),
    (("POST", "/embed", {"input": "x"}), 422, "inputs: missing"),
    (("POST", "/embed", {"inputs": 5}), 422, "inputs"),
    (("POST", "/embed", {"inputs": [1, 2]}), 422, "inputs[0]"),
    (("POST", "/embed", {"inputs": None}), 422, "inputs"),
    (("POST", "/embed", {"inputs": []}), 422, "empty list"),
    (("POST", "/embed", {"inputs": ["ok", ""]}), 422, "inputs[1]: an empty text"),
    (("POST", "/embed", {"inputs": "x", "normalize": "yes please"}), 422, "normalize"),
    (("POST", "/embed", {"inputs": "x", "normalize": 1}), 422, "normalize"),
    (("POST", "/embed", {"inputs": "x", "truncate": "yes"}), 422, "truncate"),
    (("POST", "/tokenize", {"inputs": "x", "add_special_tokens": "no"}), 422, "add_special_tokens"),
    (("POST", "/embed", b'{"inputs": "a \\ud800 b"}'), 422, "lone surrogate"),
    (("POST", "/tokenize", b'{"inputs": ["ok", "\\udfff"]}'), 422, "inputs[1]: not valid Unicode"),
    (("POST", "/predict", b'{"inputs": "\\ud800", "model": "ner"}'), 422, "not valid Unicode"),
    (("POST", "/embed", {"inputs": "x", "pooling": "max"}), 422, "pooling"),
    (("POST", "/embed", {"inputs": "x", "encoding_format": "hex"}), 422, "encoding_format"),
    (("POST", "/embed", {"inputs": "x", "nromalize": True}), 422, "nromalize: not a field"),
    (("POST", "/embed", {"inputs": ["x"] * 5}), 413, "--max-client-batch-size 4"),
    (("POST", "/embed", {"inputs": " ".join(["good"] * 40)}), 413, "--max-input-length 24"),
    (("POST", "/embed", {"inputs": "good " * 1000}), 413, "--payload-limit"),
    (("POST", "/embed", {"inputs": "x", "model": "nope"}), 404, "'nope' is not served"),
    (("POST", "/embed", {"inputs": "x", "model": "clf"}), 422, "clf is a classify model"),
    (("POST", "/predict", {"inputs": "x"}), 422, "emb is an embedding model"),
    (("POST", "/predict", {"inputs": {"question": "q"}, "model": "qa"}), 422, "question"),
    (("POST", "/predict", {"inputs": "a text", "model": "qa"}), 422, "a qa model takes"),
    (("POST", "/predict", {"inputs": [["a", "b", "c"]], "model": "clf"}), 422, "a text or a pair"),
    (("POST", "/predict", {"inputs": ["good movie"], "model": "pclf"}), 422, "sentence pairs"),
    (("POST", "/predict", {"inputs": [["good", "movie"]], "model": "clf"}), 422, "single texts"),
    (("POST", "/predict", {"inputs": [{"text": "x"}], "model": "ner"}), 422, "an ner model takes a text"),
    (("POST", "/v1/embeddings", {"input": "x", "dimensions": 3}), 422, "dimensions"),
    (("POST", "/v1/embeddings", {"input": [[1, 2, 3]]}), 422, "input[0]"),
    (("POST", "/tokenize", {"inputs": ["x"] * 9}), 413, "--max-client-batch-size"),
    (("POST", "/nope", {"inputs": "x"}), 404, "no such route"),
    (("POST", "/embed", ("application/x-www-form-urlencoded", b'{"inputs": "x"}')), 415, "content-type: application/json"),
    (("POST", "/embed", ("", b'{"inputs": "x"}')), 415, "content-type is 'missing'"),
    (("GET", "/v2/embeddings", None), 404, "no such route"),
    (("GET", "/embed", None), 405, "use POST"),
    (("POST", "/health", {}), 405, "use GET"),
]


@pytest.mark.parametrize("request_, status, words", BAD, ids=[f"{i}-{r[0][1]}" for i, r in enumerate(BAD)])
def test_bad_request_is_a_4xx_with_a_message(client, request_, status, words):
    method, route, body = request_
    if isinstance(body, bytes):
        r = client.request(method, route, content=body, headers={"content-type": "application/json"})
    elif isinstance(body, tuple):  # (content-type, bytes)
        r = client.request(method, route, content=body[1], headers={"content-type": body[0]} if body[0] else {})
    elif body is None:
        r = client.request(method, route)
    else:
        r = client.request(method, route, json=body)
    assert r.status_code == status, r.text
    err = r.json()
    if route.startswith("/v1/"):  # OpenAI's shape, where its clients read the message
        err = {"error": err["error"]["message"], "error_type": err["error"]["type"]}
    assert words in err["error"] and "\n" not in err["error"], err
    assert err["error_type"]
    ok = client.request(GOOD[0], GOOD[1], json=GOOD[2])  # still serving
    assert ok.status_code == 200 and len(ok.json()[0]) == 64


def test_overloaded_is_429_with_retry_after(app, client):
    state = app.server
    state.in_flight = state.limits.max_concurrent_requests  # as if that many were being answered
    try:
        r = client.post("/embed", json={"inputs": "x"})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "--max-concurrent-requests" in r.json()["error"]
        assert client.get("/health").status_code == 200  # health is never refused
    finally:
        state.in_flight = 0
    assert client.post("/embed", json={"inputs": "x"}).status_code == 200


def test_info_health_and_metrics(client):
    info = client.get("/info").json()
    assert info["model_id"] == "emb" and info["max_client_batch_size"] == 4
    assert [m["task"] for m in info["models"]] == ["embed", "classify", "classify", "ner", "qa"]
    assert client.get("/health").json() == {"status": "ok"}
    client.post("/embed", json={"inputs": ["a", "b"]})
    text = client.get("/metrics").text
    assert 'bertkit_requests_total{route="/embed",status="200"}' in text
    assert "bertkit_batch_inputs_bucket" in text and 'bertkit_queue_inputs{model="emb"} 0.0' in text
    assert "bertkit_request_duration_seconds_bucket" in text


# -- the batcher -----------------------------------------------------------------------------------------

def test_batcher_merges_waiting_requests_and_returns_each_its_rows():
    calls = []

    def run(items):
        calls.append(list(items))
        return [x * 10 for x in items]

    async def scenario():
        b = Batcher(run, max_batch_tokens=100)
        b.start()
        # 12 requests submitted together: the first call takes what is queued when it starts
        jobs = [asyncio.ensure_future(b.submit([i, i + 100], tokens=10)) for i in range(12)]
        out = await asyncio.gather(*jobs)
        await b.stop()
        return out

    out = asyncio.run(scenario())
    assert out == [[i * 10, (i + 100) * 10] for i in range(12)]  # each caller its own rows, in order
    assert [len(c) for c in calls] == [20, 4]  # 10 requests of 10 tokens fill the budget of 100
    assert sorted(x for c in calls for x in c) == sorted(list(range(12)) + list(range(100, 112)))


def test_batcher_error_reaches_every_caller_of_that_batch():
    def run(items):
        raise RuntimeError("boom")

    async def scenario():
        b = Batcher(run, max_batch_tokens=100)
        b.start()
        res = await asyncio.gather(b.submit([1], 1), b.submit([2], 1), return_exceptions=True)
        await b.stop()
        return res

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(scenario()))


# -- the command ---------------------------------------------------------------------------------------

def test_serve_option_errors_are_one_line(folders, tmp_path, capsys):
    assert "no such folder" in cli_error(["serve", "--model", str(tmp_path / "missing")], capsys)
    assert "its own NAME" in cli_error(["serve", "--model", f"a={folders['emb']}", "--model",
                                       f"a={folders['clf']}"], capsys)
    assert "--onnx" in cli_error(["serve", "--model", str(folders["emb"]), "--onnx", "x.onnx"], capsys)
    assert "--workers 0" in cli_error(["serve", "--model", str(folders["emb"]), "--workers", "0"], capsys)
    assert "--engine" in cli_error(["serve", "--model", str(folders["emb"]), "--engine", "tf"], capsys)
    assert "--max-input-length 999" in cli_error(["serve", "--model", str(folders["emb"]), "--max-input-length",
                                                  "999", "--port", "0"], capsys)
    (tmp_path / "empty").mkdir()
    assert "no config.json" in cli_error(["serve", "--model", str(tmp_path / "empty"), "--port", "0"], capsys)
    with socket.socket() as s:  # a port in use
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert f"--port {port}" in cli_error(["serve", "--model", str(folders["emb"]), "--port", str(port)], capsys)


def test_batcher_waits_for_requests_in_flight_but_not_for_a_lone_client():
    calls = []

    def run(items):
        calls.append(list(items))
        return items

    async def scenario():
        in_flight = [3]
        b = Batcher(run, max_batch_tokens=100, expected=lambda: in_flight[0], max_wait=0.3)
        b.start()
        first = asyncio.ensure_future(b.submit([1], 1))
        await asyncio.sleep(0.02)  # the other two arrive later, within max_wait
        rest = [asyncio.ensure_future(b.submit([i], 1)) for i in (2, 3)]
        await asyncio.gather(first, *rest)
        in_flight[0] = 1
        t0 = asyncio.get_running_loop().time()
        await asyncio.wait_for(b.submit([4], 1), 5)  # expected 1 now, but the last call held 3: one wait
        waited = asyncio.get_running_loop().time() - t0
        t0 = asyncio.get_running_loop().time()
        await b.submit([5], 1)  # the last call held 1: no wait
        alone = asyncio.get_running_loop().time() - t0
        await b.stop()
        return waited, alone

    waited, alone = asyncio.run(scenario())
    assert calls == [[1, 2, 3], [4], [5]]
    assert waited >= 0.25 and alone < 0.15
