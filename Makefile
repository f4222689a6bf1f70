# labelloop developer entry points. Every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-project

.PHONY: demo test bench lint install system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU wheel must come first: anything that pulls an unpinned torch would fetch CUDA builds.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[all,dev]'
	# torchvision, timm and open_clip for the image-model tests, kept out of site-packages: the
	# PyPI torchvision is linked against CUDA torch, and where its native library cannot load
	# an importable-but-broken torchvision would break transformers' imports. The tests import
	# it from here (tests/unit/test_embed_vision.py). --no-deps: nothing may pull another torch.
	$(PIP) install -q --no-deps --target $(VENV)/vision-packages torchvision==0.28.0 timm==1.0.31 open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.4
	touch $(STAMP)

install: $(STAMP)

# Debian packages the browser tests need (Chromium for Playwright). Installed only when missing.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (browser tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/labelloop demo $(DEMO_DIR) $(if $(wildcard ../shared/data/madewithml/projects.json),--madewithml ../shared/data/madewithml/projects.json) $(DEMO_ARGS)

test: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
