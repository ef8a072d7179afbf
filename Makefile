# bertkit: the README and .ci/run call these targets.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export BERTKIT_CACHE ?= $(HOME)/.cache/bertkit

.PHONY: setup browser data demo test test-slow test-all bench clean

setup: $(STAMP) browser

# Debian's chromium and chromedriver, for the attention page's browser test (tests/test_viz_browser.py).
# Installed as root or through passwordless sudo; where neither works the test skips and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif ! command -v apt-get >/dev/null; then echo "setup: no apt-get here; the browser test will skip"; \
	else SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null ) \
	  || echo "setup: could not install chromium (apt-get failed); the browser test will skip"; fi

# torch is installed only where none is present: the CPU build on disk is pinned, because an
# unpinned `pip install torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# fetch real data and weights into $(BERTKIT_CACHE), sha256-checked (see scripts/fetch_data.py)
data: setup
	$(BIN)/python scripts/fetch_data.py

# the main job on its embedded default: fine-tune all-MiniLM-L6-v2 on Rotten Tomatoes sentences
# (a 2,000-sentence subset, one epoch), print test accuracy and a few predictions
demo: setup data
	$(BIN)/bertkit finetune

# the default tier (about 2.5 minutes on 2 cores); `slow` marks the long real-data checks, which CI also runs
test: setup data
	$(BIN)/python -m pytest -m "not slow" -n 2

test-slow: setup data
	$(BIN)/python -m pytest -m slow -n 2

test-all: test test-slow

# short versions of the side-by-side benchmarks (about 5 minutes); docs/benchmarks.md has the full runs
bench: setup data
	$(BIN)/python benchmarks/inference.py --quick
	$(BIN)/python benchmarks/pretrain.py --quick
	$(BIN)/python benchmarks/finetune.py --quick

clean:
	rm -rf $(VENV) build src/*.egg-info
