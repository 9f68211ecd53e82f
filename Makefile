# Two commands set up a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The CPU build of torch. PyPI's Linux torch is the CUDA build (several GB of nvidia packages), so
# unless a local wheel folder (pip's find-links) already holds $(TORCH), it comes from PyTorch's CPU
# wheel index. Another build: e.g. make demo TORCH=torch==2.13.0 TORCH_INDEX=https://pypi.org/simple
TORCH ?= torch==2.13.0+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test test-bpy45 test-bpy52 venv extension bench clean

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "$(TORCH)" "numpy<2" 2>/dev/null || \
		$(VPY) -m pip install -q "$(TORCH)" "numpy<2" --extra-index-url $(TORCH_INDEX)
	$(VPY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Blender 5.2 LTS as a module, for a second run of every test that imports bpy. bpy 5.2 needs
# Python 3.13 (and numpy 2), and no torch wheel for 3.13 is to be had here, so the generator runs
# in .venv: OHGESTURE_PYTHON is read by the add-on (common.python_interpreter) and by the tests.
# PY313: a python3.13 on PATH, else pyenv's newest 3.13; `make test PY313=/path/to/python3.13` names one.
PY313 ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { command -v "$$p"; break; }; done)
VENV52 := .venv-bpy52
STAMP52 := $(VENV52)/.installed

$(STAMP52): pyproject.toml
	@test -n "$(PY313)" || { echo "No Python 3.13 found: put python3.13 on PATH or pass PY313=/path/to/python3.13." >&2; exit 1; }
	test -x $(VENV52)/bin/python || $(PY313) -m venv $(VENV52)
	$(VENV52)/bin/python -m pip install -q --upgrade pip
	$(VENV52)/bin/python -m pip install -q "bpy==5.2.3" scipy librosa soundfile safetensors tqdm pytest hypothesis
	$(VENV52)/bin/python -m pip install -q --no-deps -e .
	touch $(STAMP52)

venv: $(STAMP)

demo: $(STAMP)
	$(VPY) -m ohgesture.core.cli.demo

# The whole suite on Blender 4.5 LTS, then every test that imports bpy (tests/addon) on Blender 5.2 LTS,
# which needs Python 3.13: without one that pass is skipped with a line saying how to enable it.
test: test-bpy45 test-bpy52

test-bpy45: $(STAMP)
	timeout -k 30 3600 $(VPY) -m pytest -q tests

ifeq ($(strip $(PY313)),)
test-bpy52:
	@echo "Skipped the Blender 5.2 test pass: it needs Python 3.13 (put python3.13 on PATH, or run make test PY313=/path/to/python3.13)."
else
test-bpy52: $(STAMP) $(STAMP52)
	OHGESTURE_PYTHON=$(abspath $(VPY)) timeout -k 30 1500 $(VENV52)/bin/python -m pytest -q tests/addon
endif

# The extension zip in dist/: Blender's own tool, from a `blender` on PATH or else from .venv's bpy module.
BLENDER ?= $(shell command -v blender 2>/dev/null)
BLENDER_EXT = $(firstword $(wildcard $(VENV)/lib/python*/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py))

extension: $(if $(BLENDER),,$(STAMP))
	mkdir -p dist
	$(if $(BLENDER),$(BLENDER) --command extension,$(VPY) $(BLENDER_EXT)) build --source-dir . --output-dir dist

bench: $(STAMP)
	$(VPY) benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) $(VENV52) .venv-bpy5 build dist *.egg-info
