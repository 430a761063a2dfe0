# pvegateway: `make install` sets everything up, `make test` checks it all.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APIDOC_MIRROR ?= $(if $(wildcard ../shared/apidoc),../shared/apidoc,)

.PHONY: install system deps apidoc docs-assets test lint typecheck unit bench formats-doc coverage-doc clean

install: system deps apidoc docs-assets

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
	$(PY) -m pvegateway.docs_assets install

test: lint typecheck unit

lint:
	$(VENV)/bin/ruff check pvegateway tests bench examples

typecheck:
	$(VENV)/bin/mypy

unit:
	$(VENV)/bin/pytest -q

bench:
	$(PY) bench/run.py
	$(PY) bench/proxy.py

formats-doc:
	$(PY) -m pvegateway.schema.formats.inventory > docs/FORMATS.md

coverage-doc:
	$(PY) -m pvegateway.backends.mock.coverage > docs/COVERAGE.md.tmp && mv docs/COVERAGE.md.tmp docs/COVERAGE.md

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
