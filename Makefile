# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXPERIMENT ?= experiments/digits_optuna.yaml

.PHONY: run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,fast]'
	touch $@

run: $(VENV)/.installed
	$(PY) -m tuner run $(EXPERIMENT)

test: $(VENV)/.installed
	$(PY) -m ruff check tuner tests benchmarks
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(PY) -m ruff check tuner tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_search.py
	$(PY) benchmarks/bench_tracking.py
	$(PY) benchmarks/bench_workers.py

clean:
	rm -rf $(VENV) .tuner mlflow.db mlruns .pytest_cache
