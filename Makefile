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

# Blender 5.0 as a module, for a second run of the Blender-facing tests.
VENV5 := .venv-bpy5
STAMP5 := $(VENV5)/.installed

$(STAMP5): pyproject.toml
	test -x $(VENV5)/bin/python || $(PY) -m venv $(VENV5)
	$(VENV5)/bin/python -m pip install -q --upgrade pip
	$(VENV5)/bin/python -m pip install -q "torch==2.13.0" "numpy<2" "bpy==5.0.1" librosa soundfile safetensors scipy tqdm pytest hypothesis
	$(VENV5)/bin/python -m pip install -q --no-deps -e .
	touch $(STAMP5)

venv: $(STAMP)

demo: $(STAMP)
	$(VPY) -m ohgesture.core.cli.demo

# The whole suite on Blender 4.5 LTS, then the Blender-facing tests again on Blender 5.0.
test: $(STAMP) $(STAMP5)
	timeout -k 30 3600 $(VPY) -m pytest -q tests
	timeout -k 30 1200 $(VENV5)/bin/python -m pytest -q tests/test_addon_*.py tests/test_retarget.py

bench: $(STAMP)
	$(VPY) benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) $(VENV5) build *.egg-info
