# Thin wrappers around the course's set-up and checks. Run `make help` for the list.
# Windows without make: see README ("Windows").

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
KERNEL := mlcicd-course
STAMP  := $(VENV)/.mlcicd-installed
# pytest-xdist workers: one per core. (One more than the cores measured within the noise
# on 2 cores: 325-395 s with 3 workers against 360-374 s with 2.)
JOBS   ?= auto
# make lab NO_BROWSER=1 PORT=8899  (or the same as environment variables) starts headless.
PORT   ?= 8888
# Containers and CI machines often run as root, which JupyterLab refuses without a flag.
LAB_FLAGS := --port=$(PORT) $(if $(NO_BROWSER),--no-browser,) \
             $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
PYTEST_ARGS ?=
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
         --nbval-cell-timeout=120

.PHONY: help setup lab test test-fast test-github-env notebooks exercises lint clean

help:
	@echo "make lab        set up (first time) and open the course in JupyterLab"
	@echo "make test       set up (first time) and run every test: package + notebooks"
	@echo "make test-fast  package tests only, no notebooks"
	@echo "make test-github-env  test-fast with the variables a GitHub runner sets"
	@echo "make notebooks  re-execute and save every notebook in notebooks/ and solutions/"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make lint       ruff over the package, tests and scripts"
	@echo "make clean      remove caches and the virtual environment"

# The course installs with uv (from PyPI, like pip; about five times faster here), or
# with pip when uv cannot be installed. PIP_CONSTRAINT (CI: requirements/ci.txt, the
# tested versions) applies either way.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet uv; then \
	  echo "installing the course and its tools with uv"; \
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python \
	    $(if $(PIP_CONSTRAINT),--constraint "$(PIP_CONSTRAINT)",) -e ".[dev]"; \
	else \
	  echo "uv is not available: installing with pip (slower)"; \
	  $(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet -e ".[dev]"; \
	fi
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python ($(KERNEL))" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir="$(CURDIR)" \
		notebooks/00_start_here.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile $(NBVAL) tests $(wildcard notebooks solutions) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests $(PYTEST_ARGS)

# The package tests as they run on GitHub: CI, GITHUB_ACTIONS, a real GITHUB_STEP_SUMMARY
# file, ... (`mlcicd workflow env`). No test may depend on them.
test-github-env: $(STAMP)
	$(BIN)/mlcicd workflow env -- $(BIN)/python -m pytest -n $(JOBS) tests $(PYTEST_ARGS)

# Solutions print check() results from the packaged checks, so build those first.
notebooks: $(STAMP)
	$(BIN)/mlcicd exercises build
	$(BIN)/python scripts/execute_notebooks.py $(NB)

exercises: $(STAMP)
	$(BIN)/mlcicd exercises build

lint: $(STAMP)
	$(BIN)/ruff check mlcicd_course tests scripts bench examples

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
