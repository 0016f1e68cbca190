# PixMo toolkit. `make demo` and `make test` install what they need on first use.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.setup-done
APT_PKGS := bubblewrap chromium chromium-driver espeak-ng sox graphviz poppler-utils texlive-latex-base texlive-latex-extra asymptote lilypond tesseract-ocr tesseract-ocr-eng libreoffice-writer-nogui
N ?= 200
TESTS ?= tests
PYTEST_ARGS ?=
OUT ?= out
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export RAY_AUTH_MODE := disabled
export PYTHONPATH := $(CURDIR)

.PHONY: setup test test-all demo lint typecheck serve gen-clocks gen-count gen-docs gen-docs-points gen-capqa train bench bench-peers clean

setup: $(STAMP) node_modules/mermaid/dist/mermaid.min.js
	bash scripts/sandbox_access.sh $(PY) $(CURDIR)

$(STAMP): pyproject.toml scripts/setup_system.sh
	bash scripts/setup_system.sh $(APT_PKGS)
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q -U pip
	$(PIP) install -q "torch==2.13.0" -e ".[all]"
	touch $(STAMP)

node_modules/mermaid/dist/mermaid.min.js:
	npm install --silent --no-audit --no-fund --no-save --no-package-lock mermaid@11

# `make test TESTS=tests/pixmo` runs a part. pytest's exit code is kept (a failure fails make); its
# "no tests collected" code 5 is turned into a clear failure, since a run that tested nothing is not a pass.
test: setup
	@$(PY) -m pytest -q -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS) $(TESTS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected from $(TESTS)" >&2; exit 1; fi; exit $$rc

test-all: setup
	PIXMO_SLOW=1 $(PY) -m pytest -q -n 2 --dist loadgroup tests

lint: setup
	.venv/bin/ruff check pixmo annotation_app generators model pipelines tests benchmarks
	.venv/bin/mypy

typecheck: setup
	.venv/bin/mypy

demo: setup
	$(PY) -m pipelines.demo --out $(OUT)/demo --preset $(or $(PRESET),full)

serve: setup
	$(PY) -m annotation_app.serve_demo

gen-clocks: setup
	.venv/bin/pixmo gen clocks --num $(N) --out $(OUT)/clocks
	.venv/bin/pixmo validate $(OUT)/clocks

gen-count: setup
	.venv/bin/pixmo gen count --out $(OUT)/count
	for d in candidates train validation test; do .venv/bin/pixmo validate $(OUT)/count/$$d || exit 1; done

gen-docs: setup  # every renderer in RENDERERS (no --renderers); report + a contact sheet per renderer in OUT/docs/report
	.venv/bin/pixmo gen docs --num $(N) --out $(OUT)/docs --report --ledger $(OUT)/docs-personas-ledger.jsonl
	.venv/bin/pixmo validate $(OUT)/docs

gen-docs-points: setup
	.venv/bin/pixmo gen docs-points --num $(N) --out $(OUT)/docs-points
	.venv/bin/pixmo validate $(OUT)/docs-points

gen-capqa: setup
	.venv/bin/pixmo gen capqa --shards $(OUT)/cap --out $(OUT)/capqa

train: setup
	.venv/bin/pixmo model train --config $(or $(CONFIG),tiny)

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b --quick; done

# img2dataset (the peer of bench_download.py) in its own environment: its pins clash with ours
bench-peers:
	python3 -m venv .bench-venv && .bench-venv/bin/pip install -q 'img2dataset==1.47.0'

clean:
	rm -rf $(OUT) var .pytest_cache
