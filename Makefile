# raytrade: set-up and the main commands. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-dev

.PHONY: install install-dev demo test lint bench clean constraints

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned and installed first: 2.13.0 is the CPU build; an unpinned torch pulls CUDA.
$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt "torch==2.13.0"
	$(PIP) install --quiet -c constraints.txt -e ".[all]"
	touch $@

$(STAMP): $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(STAMP)

demo: install
	$(VENV)/bin/raytrade demo

# pytest exits 5 when it collects no test, which fails this target: "no tests ran" never passes.
test: install-dev
	$(PY) -m pytest -p no:cacheprovider --durations=10

lint: install-dev
	$(VENV)/bin/ruff check raytrade tests benchmarks

bench: install
	$(PY) benchmarks/backtest_grid.py

clean:
	rm -rf $(VENV) runs .pytest_cache

# Pin what .venv holds now (after a dependency change and a green `make test`).
constraints: install-dev
	{ head -n 4 constraints.txt; $(PIP) freeze --exclude-editable \
	  | grep -v -i -E '^(mypy|mypy_extensions|ast-serialize|librt|pathspec)==' \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.new && mv constraints.new constraints.txt
