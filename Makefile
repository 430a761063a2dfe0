# pvegateway: `make install` sets everything up, `make test` checks it all.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APIDOC_MIRROR ?= $(if $(wildcard ../shared/apidoc),../shared/apidoc,)

.PHONY: install system deps apidoc docs-assets js-deps test lint typecheck security unit bench soak formats-doc coverage-doc clean

install: system deps apidoc docs-assets js-deps

system:
	./scripts/system-packages.sh

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

deps: $(PY)
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat

apidoc: deps
	APIDOC_MIRROR="$(APIDOC_MIRROR)" $(PY) -m pvegateway apidoc install

docs-assets: deps
	$(PY) tools/docs_assets.py install

js-deps:  # tests/clients/test_js.py: the proxmox-api npm client, pinned by tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --silent

test: lint typecheck security unit

lint:
	$(VENV)/bin/ruff check pvegateway tests bench examples tools

typecheck:
	$(VENV)/bin/mypy

# bandit (SECURITY.md). bench/, a developer's tool never installed, skips B101 (asserts check results), B105
# (it logs in to mocks it starts, with known passwords), B311 (random picks requests, never secrets), B404 and
# B603 (it runs the project's own server and wrk with fixed argument lists, never a shell).
# bench/.venv-fakepve is fakepve's own virtualenv (bench/beside_fakepve.py), not the project's code.
security:
	$(VENV)/bin/bandit -q -c pyproject.toml -r pvegateway examples tools
	$(VENV)/bin/bandit -q -c pyproject.toml -r bench -x bench/.venv-fakepve -s B101,B105,B311,B404,B603

unit:
	$(VENV)/bin/pytest -q

bench:
	$(PY) bench/run.py
	$(PY) bench/proxy.py
	BENCH_FAULTS_READ_TIMEOUT=20 $(PY) bench/faults.py  # stalled requests held: do others keep full speed?
	$(PY) bench/faults.py  # stalled requests time out and come again (2 s): the cost of failing ones

SOAK_SECONDS ?= 300
soak:  # mixed traffic from 32 clients against the mock: zero unexpected errors, flat memory
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS)

formats-doc:
	$(PY) -m pvegateway.schema.formats.inventory > docs/FORMATS.md

coverage-doc:
	$(PY) -m pvegateway.backends.mock.coverage > docs/COVERAGE.md.tmp && mv docs/COVERAGE.md.tmp docs/COVERAGE.md

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
