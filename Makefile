# Developer and CI entry points. `make test` is what CI runs (through .ci/run).
#
# The virtualenv is created with the machine's python3 when missing, and the
# project is (re)installed into it only when pyproject.toml is newer than
# the stamp file. Before the demo and the tests, scripts/ensure_broker.py
# checks that an AMQP broker answers (starting or installing the local
# RabbitMQ if need be).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-pyproject
PYTEST_ARGS ?=

.PHONY: venv broker demo test test-pythons lint docs soak bench fuzz otel-releases

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

broker:
	$(PYTHON) scripts/ensure_broker.py

demo: venv broker
	$(PY) -m pika perf --producers 1 --consumers 1 --duration 5 --size 128

# pytest exits with 5 when it collected no tests: that is a failure too.
test: venv broker
	@status=0; $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# The unit tests on every Python version pyproject.toml's classifiers name, each in its
# own virtualenv (.venv-3.N), found on the PATH or through pyenv. PYTHON_VERSIONS to
# choose; TEST_PYTHONS_ARGS="--require-all --skip-own" is what CI runs (a missing
# interpreter fails; python3's version is left to `make test`).
PYTHON_VERSIONS ?=
TEST_PYTHONS_ARGS ?=
test-pythons:
	$(PYTHON) scripts/test_pythons.py $(TEST_PYTHONS_ARGS) $(PYTHON_VERSIONS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

# Coverage-guided fuzzing (atheris): each harness of tests/fuzz for FUZZ_SECONDS seconds.
# The corpus grows in .fuzz/corpus; inputs that break a harness land in .fuzz/crashes.
FUZZ_SECONDS ?= 60
fuzz: venv
	@for target in frame table engine; do \
		$(PY) -m tests.fuzz.run $$target --corpus .fuzz/corpus --seconds $(FUZZ_SECONDS) || exit $$?; \
	done

# The documentation site (docs/ -> docs/_build/html). Warnings are errors, and
# every cross-reference must resolve (-n). Links to Python's documentation come
# from the inventory that scripts/ensure_python_inventory.py finds or installs,
# so the build needs no network.
docs: venv
	$(PYTHON) scripts/ensure_python_inventory.py
	$(PY) -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

# The memory soak test (a million messages, several minutes; excluded from `make test`).
soak: venv broker
	$(PY) -m pytest --run-slow -s tests/soak

# This project against PyPI's pika and aio-pika (installed into benchmarks/.venv-bench), and
# rabbitmq-c where cc and librabbitmq's headers are present, about 6-9 minutes;
# BENCH_ARGS=--quick for one short round.
bench: venv broker
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# OpenTelemetry's Pika instrumentation tests against several of its releases
# (a virtualenv each, about a minute per release); OTEL_RELEASES to choose.
OTEL_RELEASES ?=
otel-releases: venv broker
	$(PY) scripts/otel_instrumentation_releases.py $(OTEL_RELEASES)
