"""Shared fixtures: where `make data` put the real data, skipping with a reason when it is absent."""
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit")) / "data"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: run `make data`")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as a Hugging Face folder."""
    return _need(DATA / "minilm")


@pytest.fixture(scope="session")
def wiki_txt() -> Path:
    """English Wikipedia sample, plain text, one paragraph per line, blank line between articles."""
    return _need(DATA / "text" / "wiki.txt")


@pytest.fixture(scope="session")
def zh_txt() -> Path:
    """Chinese sentences, one per line."""
    return _need(DATA / "text" / "zh.txt")
