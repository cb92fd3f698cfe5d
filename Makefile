# One command each: `make run` plays, `make test` tests (installing what a
# fresh machine lacks), `make bench` prints the speed figures, `make lab`
# runs the AWS topology on loopback and `make lab-scenarios` rehearses its
# failures.
PORT ?= 3000
CARGO ?= cargo
LAB_PORT ?= 8080
LAB_PLAYERS ?= 300
LAB_ROOMS ?= 10
# The tests start this moto server (pinned in scripts/install-deps.sh).
export MOTO_SERVER ?= $(CURDIR)/.venv-moto/bin/moto_server

.PHONY: run build deps test test-gameserver test-provisioner test-lab try-provisioner lint bench bench-gameserver bench-provisioner lab lab-scenarios build-lab

run: build
	PORT=$(PORT) scripts/run.sh

build:
	$(CARGO) build --release -p gameserver

deps:
	@scripts/install-deps.sh

test: deps
	$(CARGO) fmt --all --check
	$(MAKE) test-gameserver
	$(MAKE) test-provisioner
	$(MAKE) test-lab

test-gameserver:
	$(CARGO) test -p gameserver

test-provisioner:
	$(CARGO) test -p provisioner

test-lab:
	$(CARGO) test -p lab

lab: build-lab
	target/release/spaaace-lab up --port $(LAB_PORT)

lab-scenarios: build-lab
	target/release/spaaace-lab scenarios --players $(LAB_PLAYERS) --rooms $(LAB_ROOMS)

build-lab:
	$(CARGO) build --release -p gameserver -p lab

# The provisioner's whole life against moto, no AWS account needed.
try-provisioner: deps
	$(CARGO) build -p provisioner
	scripts/try-provisioner.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: bench-gameserver bench-provisioner

bench-gameserver:
	$(CARGO) bench -p gameserver

bench-provisioner: deps
	$(CARGO) bench -p provisioner
