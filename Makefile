# Two commands set up a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "torch==2.13.0" "numpy<2"
	$(VPY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VPY) -m ohgesture.core.demo

test: $(STAMP)
	timeout -k 30 4800 $(VPY) -m pytest -q tests

bench: $(STAMP)
	$(VPY) benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) build *.egg-info
