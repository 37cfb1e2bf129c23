# The two commands of the README are `make demo` and `make test`; the rest serves them and CI.
# Everything runs from a project-local virtualenv (.venv), created on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck check down clean bench-decode fuzz chaos chaos-cluster load-drain load-steady \
	load-national load-peer load-photos compose-images chaos-compose

demo: $(STAMP)  ## start the stack and play the whole demo
	$(BIN)/rekap demo

test: $(STAMP)  ## the whole test suite, on a real broker and a real PostgreSQL
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check services tests loadtests tools
	$(BIN)/ruff format --check services tests loadtests tools
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

down: $(STAMP)  ## stop the local stack (data is kept; `rekap stack reset` deletes it)
	$(BIN)/rekap stack down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Rekap needs Python 3.11 or newer as $(PYTHON) (make PYTHON=python3.12 ...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

bench-decode: $(STAMP)  ## microbenchmark of decode + validate (+ verify), one core
	$(BIN)/python -m loadtests.bench_decode

fuzz: $(STAMP)  ## 120,000 hostile records decoded and written into a real PostgreSQL (local stack)
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.fuzz

chaos: $(STAMP)  ## 200,000 records at 1,500/s while tabulators, PostgreSQL and the broker are killed, scaled, frozen
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.chaos

# A stack of its own, in the deployment's shape (three brokers, a primary and its standby), beside the demo's.
CLUSTER = REKAP_HOME=.rekap/cluster REKAP_KAFKA_PORT=19192 REKAP_KAFKA_CONTROLLER_PORT=19193 REKAP_POSTGRES_PORT=15532
chaos-cluster: $(STAMP)  ## 200,000 records at 1,500/s into 3 brokers + a standby while machines are lost
	$(CLUSTER) $(BIN)/rekap stack up --brokers 3 --standby
	$(CLUSTER) $(BIN)/python -m loadtests.chaos_cluster

# The load tests run against the local stack (started here if it is not up).
load-drain: $(STAMP)  ## a night's backlog drained, with and without signatures, by 1 and 2 tabulators
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.drain --tabulators 1 2
	$(BIN)/python -m loadtests.drain --no-verify --tabulators 1 2

load-steady: $(STAMP)  ## produce-to-visible latency and lag at 1k, 2k, 5k, 10k tallies/s
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.steady

load-national: $(STAMP)  ## ~870,000 tallies (Pilkada 2024's size) drained by 1 and 2 tabulators
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.drain --national --no-verify --tabulators 1 2

load-photos: $(STAMP)  ## a night with a photo of every form: the tally drain with and without the photo consumer beside it
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.photos --repeat 2

load-peer: $(STAMP)  ## one ~375,000-record backlog: a ceiling, a Quix Streams peer (own venv) and Rekap's tabulators
	$(BIN)/rekap stack up
	$(BIN)/python -m loadtests.peer

# Containers (docs/containers.md): docker-compose.yml with Podman, every image built here (as root).
compose-images:  ## Podman set up, the base image made with debootstrap, every image of docker-compose.yml built
	sh deploy/podman/setup.sh

chaos-compose: $(STAMP)  ## docker-compose.yml run for real, a night played into it while brokers, PostgreSQL and a tabulator fail
	$(BIN)/python -m loadtests.compose_chaos
