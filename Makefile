# The two commands: `make run` (the main job) and `make test` (everything CI runs).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: run test quick lint docs bench setup setup-test clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

run: setup
	$(PY) -m driver.cli serve

test: setup-test
	scripts/test.sh $(PYTEST_ARGS)

# The quick local loop: no real QEMU.
quick: setup
	$(PY) -m pytest -q -m "not qemu and not agent" $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check driver tests benchmarks
	.venv/bin/mypy

docs: setup
	.venv/bin/sphinx-build -W -q -b html docs docs/_build/html

bench: setup-test
	scripts/bench.sh

clean:
	rm -rf .venv .cache docs/_build var
