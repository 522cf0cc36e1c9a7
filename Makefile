# The two commands: `make demo` (local cloud + seeded catalog + a learner journey) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PROJECT ?=
REGION ?= us-central1
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# The local cloud runs the functions as deployed (staged source, runtime-only venv: localcloud/parity.py);
# `make up DEV=1` / `make test DEV=1` runs them from the checkout in the dev venv instead.
ifdef DEV
export LOCALCLOUD_MODE := dev
endif

.PHONY: install up down status demo test lint pytest seed openapi bench-progress bench-uploads bench-review bench-cohort bench-exports deploy deploy-plan smoke clean
.PHONY: bench-catalog catalog-plan catalog-apply

install: .venv/.installed .venv-tasks/.installed node_modules/.installed web/dist/.built /usr/bin/chromium

.venv/.installed: requirements.txt requirements-dev.txt
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	python3 -m venv .venv
	.venv/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

.venv-tasks/.installed: requirements-tasks-emulator.txt
	python3 -m venv .venv-tasks
	.venv-tasks/bin/pip install --disable-pip-version-check -q -r requirements-tasks-emulator.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "node and npm are required (the Auth emulator is firebase-tools)"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The web page's bundle (esbuild; no CDN) and Debian's chromium for its browser test.
web/dist/.built: node_modules/.installed web/build.mjs $(shell find web/src web/local -type f)
	npm run --silent build:web
	touch $@

/usr/bin/chromium:
	@command -v apt-get >/dev/null || { echo "chromium is required for the browser test (Debian: apt-get install chromium)"; exit 1; }
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

up: install
	$(PY) -m localcloud up

down:
	@if [ -x $(PY) ]; then $(PY) -m localcloud down; else echo "nothing to stop"; fi

status:
	$(PY) -m localcloud status

seed: install
	$(PY) -m seed.load

demo: install
	$(PY) -m localcloud up
	$(PY) -m localcloud.demo
	@echo "The local cloud is still running (see .local/stack.json); stop it with: make down"

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Lint and types, then the whole suite against a freshly started local cloud, which is always stopped.
test: lint
	$(PY) -m localcloud up
	status=0; .venv/bin/pytest $(PYTEST_ARGS) || status=$$?; $(PY) -m localcloud down; exit $$status

# Against an already running `make up`.
pytest:
	.venv/bin/pytest $(PYTEST_ARGS)

openapi: install
	$(PY) -m tools.openapi

bench-progress: install
	$(PY) -m bench.bench_progress $(BENCH_ARGS)

# Against a running `make up`; BENCH_ARGS="--learners 50" for a shorter run.
bench-uploads: install
	$(PY) -m bench.bench_uploads $(BENCH_ARGS)

bench-review: install
	$(PY) -m bench.bench_review $(BENCH_ARGS)

# The cohort dashboard (issue 12): documents read and time to serve it at two cohort sizes, and the
# aggregates' drift after concurrent learner actions under duplicate + reordered delivery.
bench-cohort: install
	$(PY) -m bench.bench_cohort $(BENCH_ARGS)
	@# the CSV exports' timings, once bench/bench_exports.py exists (EXPORT_BENCH_ARGS for its options)
	@if [ -f bench/bench_exports.py ]; then $(PY) -m bench.bench_exports $(EXPORT_BENCH_ARGS); fi

# Against a running `make up`: both CSV exports of a seeded 1,000-learner cohort (time, peak memory).
bench-exports: install
	$(PY) -m bench.bench_exports $(BENCH_ARGS)

.PHONY: bench-certificates
bench-certificates: install
	$(PY) -m bench.bench_certificates $(BENCH_ARGS)

# The plan needs only python3: no credentials, network, gcloud or install.
deploy-plan:
	python3 -m deploy --project $(or $(PROJECT),my-project) --region $(REGION) --dry-run

# Only what deploying needs: firebase-tools and esbuild (node_modules) and the built page. The deploy
# itself is standard-library python3: no dev venv, no emulators, no chromium.
deploy: node_modules/.installed web/dist/.built
	@test -n "$(PROJECT)" || { echo "usage: make deploy PROJECT=<project id> [REGION=us-central1]"; exit 1; }
	python3 -m deploy --project $(PROJECT) --region $(REGION)

# The smoke test of a deployed project (docs/DEPLOY.md); `make smoke LOCAL=1` against `make up`.
smoke: .venv/.installed
	$(PY) -m deploy smoke $(if $(LOCAL),--local,--project $(PROJECT) --region $(REGION))

clean: down
	rm -rf .venv .venv-tasks node_modules .local

# Catalog as code (issue 13), against a running `make up` (or GOOGLE_CLOUD_PROJECT).
catalog-plan: install
	$(PY) -m catalog plan

catalog-apply: install
	$(PY) -m catalog apply

# Against a running `make up`; BENCH_ARGS="--learners 2000" for a shorter run (default 20,000).
bench-catalog: install
	$(PY) -m bench.bench_catalog $(BENCH_ARGS)
