"""Where `make data` puts real weights and data: $BERTKIT_CACHE/data (default ~/.cache/bertkit/data)."""
import os
from pathlib import Path

CACHE = Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit"))
DATA = CACHE / "data"
MINILM = DATA / "minilm"
TEXT = DATA / "text"
