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

# Blender 5.2 LTS as a module, for a second run of every test that imports bpy. bpy 5.2 needs
# Python 3.13 (and numpy 2), and no torch wheel for 3.13 is to be had here, so the generator runs
# in .venv: OHGESTURE_PYTHON is read by the add-on (common.python_interpreter) and by the tests.
PY313 ?= $(shell pyenv root 2>/dev/null)/versions/3.13.0/bin/python3.13
VENV52 := .venv-bpy52
STAMP52 := $(VENV52)/.installed

$(STAMP52): pyproject.toml
	test -x $(VENV52)/bin/python || $(PY313) -m venv $(VENV52)
	$(VENV52)/bin/python -m pip install -q --upgrade pip
	$(VENV52)/bin/python -m pip install -q "bpy==5.2.3" scipy librosa soundfile safetensors tqdm pytest hypothesis
	$(VENV52)/bin/python -m pip install -q --no-deps -e .
	touch $(STAMP52)

venv: $(STAMP)

demo: $(STAMP)
	$(VPY) -m ohgesture.core.cli.demo

# The whole suite on Blender 4.5 LTS, then every test that imports bpy (tests/addon) on Blender 5.2 LTS.
test: $(STAMP) $(STAMP52)
	timeout -k 30 3600 $(VPY) -m pytest -q tests
	OHGESTURE_PYTHON=$(abspath $(VPY)) timeout -k 30 1500 $(VENV52)/bin/python -m pytest -q tests/addon

bench: $(STAMP)
	$(VPY) benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) $(VENV52) .venv-bpy5 build *.egg-info
