# One command each: `make run` plays, `make test` tests (installing what a
# fresh machine lacks), `make bench` prints the speed figures.
PORT ?= 3000
CARGO ?= cargo
# The tests start this moto server (pinned in scripts/install-deps.sh).
export MOTO_SERVER ?= $(CURDIR)/.venv-moto/bin/moto_server

.PHONY: run build deps test test-gameserver test-provisioner try-provisioner lint bench bench-gameserver bench-provisioner

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

test-gameserver:
	$(CARGO) test -p gameserver

test-provisioner:
	$(CARGO) test -p provisioner

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
