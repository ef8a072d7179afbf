"""The HTTP app (FastAPI): the routes, their request shapes, the errors, and the request bounds.

Routes, shaped after text-embeddings-inference (TEI) and OpenAI's embeddings API:
- POST /embed          {"inputs": str | [str], "normalize": true, "truncate": null, "pooling": "mean"|"cls"|
                       "none", "encoding_format": "float"|"base64", "model": null} → [vector, ...] (pooling
                       "none": [[token vector, ...], ...]); base64 is little-endian float32, as OpenAI's
- POST /v1/embeddings  {"input": str | [str], "model": null, "encoding_format": ...} → {"object": "list",
                       "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}
- GET  /v1/models      {"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}
- POST /predict        {"inputs": one or a list; classify: text or [text, text_pair], ner: text, qa:
                       {"question", "context"}; "truncate", "model"} → the rows `bertkit predict` writes
                       (one object for one input, a list for a list)
- POST /tokenize       {"inputs": str | [str], "add_special_tokens": true} → [[{"id", "text", "special",
                       "start", "stop"}, ...], ...]
- GET  /health, /info, /metrics (Prometheus text)

Every error is JSON {"error": "<where>: <what>; <what to do>", "error_type": ...} with a 4xx status for
anything the client sent (413 for a body, batch or text over a bound, 422 for the wrong shape or kind,
429 when --max-concurrent-requests are in flight, with Retry-After) and 5xx only for a fault of the
server itself.
"""
from __future__ import annotations

import base64
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
import orjson
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from ..errors import BertkitError
from .served import EMBED, InputError, ServedModel

try:
    from importlib.metadata import version as _version
    VERSION = _version("bertkit")
except Exception:  # running from a source tree that was never installed
    VERSION = "0.1.0"

INFERENCE_ROUTES = ("/embed", "/v1/embeddings", "/predict", "/tokenize")
ROUTES = INFERENCE_ROUTES + ("/v1/models", "/health", "/info", "/metrics")


@dataclass
class ServerLimits:
    max_concurrent_requests: int = 512  # inference requests answered at once; more get 429
    payload_limit: int = 2_000_000  # bytes of a request body; more get 413
    retry_after: int = 1  # seconds, the Retry-After of a 429


class FastJSON(Response):
    """A JSON answer written by orjson: vectors go out as numpy float32 arrays, each number the shortest
    text that reads back as the same float32 (about 20 times faster than json.dumps of Python floats)."""
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


# -- request shapes -------------------------------------------------------------------------------------

class _Request(BaseModel):
    # a misspelt field is an error, not silently ignored; "yes" or 1 is not a boolean
    model_config = ConfigDict(extra="forbid", strict=True)


class EmbedRequest(_Request):
    inputs: Union[str, list[str]]
    normalize: bool = True
    truncate: Optional[bool] = None
    pooling: Literal["mean", "cls", "none"] = "mean"
    encoding_format: Literal["float", "base64"] = "float"
    model: Optional[str] = None


class OpenAIEmbeddingRequest(_Request):
    input: Union[str, list[str]]
    model: Optional[str] = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Optional[int] = None
    user: Optional[str] = None


class PredictRequest(_Request):
    inputs: Any
    truncate: Optional[bool] = None
    model: Optional[str] = None


class TokenizeRequest(_Request):
    inputs: Union[str, list[str]]
    add_special_tokens: bool = True
    model: Optional[str] = None


# -- errors ---------------------------------------------------------------------------------------------

ERROR_TYPES = {400: "Validation", 404: "NotFound", 405: "NotFound", 413: "Validation", 415: "Validation",
               422: "Validation",
               429: "Overloaded", 500: "Backend"}


def error(status: int, message: str, headers: dict | None = None, path: str = "") -> JSONResponse:
    """The error answer: TEI's {"error", "error_type"}, or under /v1/ OpenAI's {"error": {"message", "type",
    "param", "code"}}, which OpenAI's clients read their message from."""
    kind = ERROR_TYPES.get(status, "Validation")
    if path.startswith("/v1/"):
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    else:
        body = {"error": message, "error_type": kind}
    return JSONResponse(body, status, headers=headers)


def _where(loc) -> str:
    """A pydantic error location as a field path: ("body", "inputs", 3) → inputs[3]."""
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[str]") or "[" in str(part):
            continue  # the name of a union member, not a field
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_message(exc: RequestValidationError) -> str:
    """One line for the first thing wrong with a request body."""
    errs = exc.errors()
    # of a union's alternatives, the one that got furthest names the fault best: inputs[3], not inputs
    e = max(errs, key=lambda x: len(x["loc"])) if errs else {"loc": ("body",), "msg": "invalid request", "type": ""}
    kind = e.get("type", "")
    if kind == "json_invalid":
        ctx = e.get("ctx") or {}
        return (f"body: not valid JSON ({ctx.get('error', e.get('msg'))} at character {e['loc'][-1]}); send a "
                "JSON object")
    if kind == "missing" and _where(e["loc"]) == "body":
        return "body: empty; send a JSON object, e.g. {\"inputs\": \"some text\"}"
    if kind == "missing":
        return f"{_where(e['loc'])}: missing; the request must have it"
    if kind == "extra_forbidden":
        return f"{_where(e['loc'])}: not a field of this route; remove it (see GET /docs)"
    if kind == "model_attributes_type" or (kind.endswith("_type") and _where(e["loc"]) == "body"):
        return "body: must be a JSON object, e.g. {\"inputs\": \"some text\"}"
    msg = e.get("msg", "invalid")
    return f"{_where(e['loc'])}: {msg[0].lower() + msg[1:] if msg else msg}"


# -- the app --------------------------------------------------------------------------------------------

@dataclass
class ServerState:
    models: dict[str, ServedModel]
    limits: ServerLimits = field(default_factory=ServerLimits)
    metrics: Any = None
    in_flight: int = 0
    batched: int = 0  # of those, requests of a route that goes through a batcher (all but /tokenize)
    started: float = field(default_factory=time.time)


def create_app(models: dict[str, ServedModel], limits: ServerLimits | None = None, metrics=None) -> FastAPI:
    """The app over loaded models (the first is the default when a request names none)."""
    state = ServerState(models, limits or ServerLimits(), metrics)
    default = next(iter(models))
    for m in models.values():
        m.expect(lambda: state.batched)

    @asynccontextmanager
    async def lifespan(app):
        for m in models.values():
            m.batcher.start()
        yield
        for m in models.values():  # in-flight requests have drained by now (uvicorn waits for them)
            await m.batcher.stop()

    app = FastAPI(title="bertkit", version=VERSION, lifespan=lifespan,
                  description="BERT-family models: embeddings, predictions and tokens over HTTP.")
    app.state.bertkit = state

    def pick(name: str | None, want: str, route: str) -> ServedModel:
        m = models.get(name or default)
        if m is None:
            raise InputError(f"model: {name!r} is not served here; this server has {', '.join(models)}", 404)
        if want == EMBED and m.task != EMBED:
            raise InputError(f"model: {m.name} is a {m.task} model; {route} needs an embedding model (a folder "
                             "without a fine-tuned head): use /predict, or serve an encoder folder")
        if want == "predict" and m.task == EMBED:
            raise InputError(f"model: {m.name} is an embedding model without a fine-tuned head; /predict needs "
                             "a folder written by bertkit finetune: use /embed")
        return m

    def vectors(vecs, fmt: str) -> list:
        if fmt == "base64":
            return [base64.b64encode(v.numpy().astype("<f4").tobytes()).decode("ascii") for v in vecs]
        return [v.numpy() for v in vecs]

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return error(exc.status, str(exc), path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return error(422, validation_message(exc), path=request.url.path)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return error(404, f"{request.method} {request.url.path}: no such route; the routes are "
                              f"{', '.join(ROUTES)} (and /docs)", path=request.url.path)
        if exc.status_code == 405:
            return error(405, f"{request.method} {request.url.path}: method not allowed; "
                              f"{'use POST' if request.url.path in INFERENCE_ROUTES else 'use GET'}",
                         headers=exc.headers, path=request.url.path)
        if exc.status_code == 400:  # a body that is not JSON text at all (e.g. not UTF-8)
            return error(400, f"body: {exc.detail}; send a UTF-8 JSON object", path=request.url.path)
        return error(exc.status_code, str(exc.detail), path=request.url.path)

    @app.exception_handler(BertkitError)
    async def _bertkit_error(request: Request, exc: BertkitError):  # raised on what the request sent
        return error(422, f"inputs: {exc}", path=request.url.path)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception):  # a fault of the server, never of the input
        return error(500, f"{request.url.path}: internal error ({type(exc).__name__}: {exc})", path=request.url.path)

    @app.post("/embed")
    async def embed(req: EmbedRequest):
        m = pick(req.model, EMBED, "/embed")
        texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
        m.check_batch(len(texts))
        items = m.encode_for_embedding(texts, req.truncate, req.pooling, req.normalize)
        vecs = await m.batcher.submit(items, sum(len(x.input_ids) for x in items))
        return FastJSON(vectors(vecs, req.encoding_format))

    @app.post("/v1/embeddings")
    async def openai_embeddings(req: OpenAIEmbeddingRequest):
        m = pick(req.model, EMBED, "/v1/embeddings")
        if req.dimensions is not None and req.dimensions != m.config.hidden_size:
            raise InputError(f"dimensions: {req.dimensions}, but {m.name} makes vectors of "
                             f"{m.config.hidden_size}; leave dimensions out")
        texts = [req.input] if isinstance(req.input, str) else req.input
        m.check_batch(len(texts), "input")
        items = m.encode_for_embedding(texts, None, "mean", True, field="input")
        tokens = sum(len(x.input_ids) for x in items)
        vecs = await m.batcher.submit(items, tokens)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in
                enumerate(vectors(vecs, req.encoding_format))]
        return FastJSON({"object": "list", "data": data, "model": m.name,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    @app.get("/v1/models")
    async def openai_models():
        return {"object": "list", "data": [{"id": n, "object": "model", "created": int(state.started),
                                            "owned_by": "bertkit"} for n in models]}

    @app.post("/predict")
    async def predict(req: PredictRequest):
        m = pick(req.model, "predict", "/predict")
        one = not isinstance(req.inputs, list) or (
            m.task == "classify" and len(req.inputs) == 2 and all(isinstance(t, str) for t in req.inputs)
            and m.predictor.pair is True)  # a single [text, text_pair] of a pair classifier
        inputs = [req.inputs] if one else req.inputs
        m.check_batch(len(inputs))
        examples, tokens = m.encode_for_prediction(inputs, req.truncate)
        rows = await m.batcher.submit(examples, tokens)
        return FastJSON(rows[0] if one else rows)

    @app.post("/tokenize")
    async def tokenize(req: TokenizeRequest):
        m = pick(req.model, "any", "/tokenize")
        texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
        m.check_batch(len(texts))
        return FastJSON(m.tokenize(texts, req.add_special_tokens))

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/info")
    async def info():
        first = models[default].info()
        return {"version": VERSION, **first, "max_concurrent_requests": state.limits.max_concurrent_requests,
                "payload_limit": state.limits.payload_limit, "models": [m.info() for m in models.values()]}

    @app.get("/metrics")
    async def metrics_route():
        if state.metrics is None:
            return error(404, "/metrics: metrics are off")
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        for m in models.values():
            state.metrics.queued.labels(m.name).set(m.batcher.queued)
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Guard(app, state)


class Guard:
    """ASGI middleware in front of the app: the bounds that hold before a request is parsed.

    - more than `max_concurrent_requests` inference requests in flight: 429 with Retry-After, at once;
    - a body over `payload_limit` bytes (by Content-Length, or as it streams in): 413;
    - request counts and latency per route for /metrics.
    /health, /info and /metrics are never refused, so a load balancer sees an overloaded server as alive.
    The FastAPI app is `.app`; the server's state (models, limits, metrics) is `.server`."""

    def __init__(self, app: FastAPI, state: ServerState):
        self.app, self.server = app, state

    def __getattr__(self, name):  # app.state, app.routes, ... for tests and uvicorn
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        route = path if path in ROUTES or path in ("/docs", "/openapi.json") else "other"
        state, metrics = self.server, self.server.metrics
        status = [500]

        async def send_counted(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        limited = path in INFERENCE_ROUTES
        try:
            if limited and state.in_flight >= state.limits.max_concurrent_requests:
                resp = error(429, f"{path}: {state.in_flight} requests in flight, the --max-concurrent-requests "
                                  f"bound; retry after {state.limits.retry_after} s",
                             headers={"Retry-After": str(state.limits.retry_after)}, path=path)
                return await resp(scope, receive, send_counted)
            if limited and scope["method"] == "POST":
                ctype = next((v for k, v in scope.get("headers", ()) if k == b"content-type"), b"").decode("latin-1")
                if "json" not in ctype.lower():
                    resp = error(415, f"body: content-type is {ctype or 'missing'!r}; send the JSON with "
                                      "content-type: application/json (curl: -H 'content-type: application/json')",
                                 path=path)
                    return await resp(scope, receive, send_counted)
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body = await self._body(scope, receive)
                if body is None:
                    resp = error(413, f"body: more than --payload-limit {state.limits.payload_limit} bytes; "
                                      "send fewer or shorter inputs per request", path=path)
                    return await resp(scope, receive, send_counted)
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as e:
                    resp = error(400, f"body: not UTF-8 (byte 0x{body[e.start]:02x} at position {e.start}); "
                                      "send the JSON encoded as UTF-8", path=path)
                    return await resp(scope, receive, send_counted)
                receive = _replay(body)
            batched = limited and path != "/tokenize"
            if limited:
                state.in_flight += 1
                state.batched += batched
                if metrics is not None:
                    metrics.in_flight.set(state.in_flight)
            try:
                await self.app(scope, receive, send_counted)
            finally:
                if limited:
                    state.in_flight -= 1
                    state.batched -= batched
                    if metrics is not None:
                        metrics.in_flight.set(state.in_flight)
        finally:
            if metrics is not None:
                metrics.requests.labels(route, str(status[0])).inc()
                metrics.latency.labels(route).observe(time.perf_counter() - t0)

    async def _body(self, scope, receive) -> bytes | None:
        """The whole body, or None as soon as it is over the payload limit."""
        limit = self.server.limits.payload_limit
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    if int(v) > limit:
                        return None
                except ValueError:
                    pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)


def _replay(body: bytes):
    """A `receive` that hands the app the body already read, then waits for the disconnect."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive

