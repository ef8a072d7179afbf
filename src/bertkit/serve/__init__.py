"""Serving over HTTP: `bertkit serve` (cli.py) runs the FastAPI app (app.py) on uvicorn; each model
(served.py) batches concurrent requests (batcher.py); /metrics comes from metrics.py. See docs/deploy.md."""
