# Everything a fresh machine needs, starting from Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint typecheck unit coverage wheel bench soak mutation audit clean lock

# A venv with the runtime and demo extras (moto's SQS server): the locked tree,
# every file checked against its hash, then sesd itself (no other dependency),
# built by the locked backend (requirements/build.txt) in the venv. With build
# isolation pip would fetch whichever setuptools>=77 the index serves that day,
# unchecked: two fresh installs a month apart would build with different backends.
$(VENV)/.demo: pyproject.toml requirements/demo.txt requirements/build.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes -r requirements/build.txt
	$(PIP) install -q --require-hashes -r requirements/demo.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

# The same venv with the development tools as well.
$(VENV)/.dev: $(VENV)/.demo requirements/dev.txt
	$(PIP) install -q --require-hashes -r requirements/dev.txt
	touch $@

# ARGS: the demo's own options (make demo ARGS='--listen 127.0.0.1:0').
demo: $(VENV)/.demo
	$(BIN)/sesd demo $(ARGS)

test: lint typecheck unit

lint: $(VENV)/.dev
	$(BIN)/ruff check sesd tests bench scripts
	$(BIN)/ruff format --check sesd tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_sizes.py

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The tests, under coverage.py (branch coverage of sesd/): the report's total must
# not fall below [tool.coverage.report] fail_under (a ratchet; TESTING.md). Four
# worker processes (pytest-xdist), each test taken by whichever is free: most of the
# suite waits on servers and subprocesses: two workers left the two cores idle a
# third of the time, three about a fifth (1.55 of 2 cores busy); a fourth runs while
# the others wait: 333 s of tests where three took 384, the same CPU (TESTING.md).
unit: $(VENV)/.dev
	$(BIN)/pytest -n 4 --dist worksteal --cov --cov-report=
	$(BIN)/coverage report

coverage: unit

bench: $(VENV)/.dev
	$(BIN)/python -m bench

# A wheel of sesd in dist/, for installs outside the container (systemd), naming its
# commit (scripts/wheel.py says how). Every build has the same version, so pip must
# be told to replace the installed one:
# /opt/sesd/bin/pip install --require-hashes -r requirements/runtime.txt
# /opt/sesd/bin/pip install --no-deps --force-reinstall dist/sesd-*.whl
wheel: $(VENV)/.dev
	$(BIN)/python scripts/wheel.py

# Mutation testing of the pure core and the alert path (TESTING.md): minutes, not
# part of `make test`. mutants/ keeps the results; a second run re-tests only what
# changed. The report gives the score per module and lists the survivors.
mutation: $(VENV)/.dev
	SESD_MUTATION=1 $(BIN)/mutmut run --max-children $$(nproc)
	$(BIN)/python scripts/mutation_report.py

# The long versions of the reliability scenarios (RELIABILITY.md).
soak: $(VENV)/.dev
	SESD_SOAK=1 $(BIN)/pytest tests/test_reliability.py

# Known vulnerabilities in the pinned tree. Needs a vulnerability database
# (PyPI's JSON API or OSV); --strict fails when any package could not be
# checked, rather than reporting "no known vulnerabilities" for nothing.
audit: $(VENV)/.dev
	$(PIP) install -q pip-audit
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements/dev.txt

# Lock the dependency tree after changing pyproject.toml: what each install needs
# and nothing else, every file with its hashes. Pins already in a file are kept;
# `make lock UPGRADE=--upgrade` moves them to the newest allowed. The dev lock, the
# whole tree, is resolved first and the others take its versions (-c): locked one by
# one, a package two of them share could be pinned at two versions (packaging, for
# the tools and for the build backend), and the one installed last would win.
LOCK := $(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-header \
        --no-emit-index-url --no-emit-find-links $(UPGRADE)
lock: $(VENV)/.dev
	$(LOCK) --extra dev --extra demo -o requirements/dev.txt pyproject.toml
	$(LOCK) -c requirements/dev.txt -o requirements/runtime.txt pyproject.toml
	$(LOCK) -c requirements/dev.txt --extra demo -o requirements/demo.txt pyproject.toml
	$(LOCK) -c requirements/dev.txt --build-deps-for wheel --only-build-deps \
	    -o requirements/build.txt pyproject.toml
	# pytest-cov asks for coverage[toml]: pip 23.2 (Python 3.11's own) in hash mode,
	# with a find-links or constraint file in its config, takes that for a second,
	# unpinned requirement and refuses the install once coverage has a newer release.
	# Pinned with its extra, the one line is both (constraints may not carry extras,
	# so this comes after the locks that read dev.txt as constraints).
	sed -i 's/^coverage==/coverage[toml]==/' requirements/dev.txt

clean:
	rm -rf $(VENV) build dist mutants .mypy_cache .ruff_cache .pytest_cache
