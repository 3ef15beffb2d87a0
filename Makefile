# Shortcuts for the two README commands (scripts/run.sh and scripts/test.sh) and more.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: run run-driver test quick lint docs bench setup setup-test clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

# The simulator with its in-process driver on the simulated KVM host.
run:
	scripts/run.sh

# The driver alone, on the local libvirtd.
run-driver: setup
	$(PY) -m driver.cli serve

test:
	scripts/test.sh $(PYTEST_ARGS)

# The quick local loop: no real QEMU.
quick: setup-test
	$(PY) -m pytest -q -m "not qemu and not agent" $(PYTEST_ARGS)

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

docs: setup-test
	.venv/bin/sphinx-build -W -q -b html docs docs/_build/html

bench: setup-test
	scripts/bench.sh

clean:
	rm -rf .venv .cache docs/_build var
