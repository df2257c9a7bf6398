# zdplay: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/zdplay
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build images test demo bench lint fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/zdplay

# Every image is built locally (no registry is reachable): the demo app
# FROM scratch, nginx, haproxy and redis from Debian's packages.
images:
	@if docker info >/dev/null 2>&1; then bash testdata/images/build.sh; \
	else echo "make images: no Docker engine reachable: images not built (the end-to-end tests will say they skip)"; fi

# All tests, the end-to-end ones against the real Docker engine included;
# one package at a time, so that load tests do not share 2 cores with others.
test: images
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m ./...

# Build, provision 0.0.1, upgrade to 0.0.2 under load, print the probe's verdict.
demo: build images
	bash testdata/demo.sh

# Minutes, not hours (never part of `make test`): the Go micro-benchmarks
# (bench/go-bench.txt), then upgrades of the demo stack under load by zdplay,
# by the bare steps (bench/floor.sh) and by the seed-002 Ansible design
# (bench/ansible/, when ansible-playbook and docker-compose are installed),
# and zdplay's no-op and converged runs: bench/results.json, bench/RESULTS.md
# and a chart per upgrade. BENCHFLAGS, e.g. -rounds 1 -cases zdplay-2,floor-2.
bench: build images
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 20m ./runner ./internal/... 2>&1 | tee bench/go-bench.txt
	bash bench/install-ansible.sh
	$(GO) run ./bench $(BENCHFLAGS)

lint:
	@test -z "$$(gofmt -l . | grep -v '^testdata/' | tee /dev/stderr)" || (echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# A longer fuzzing session of the loader (its seed corpus runs in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./runner

clean:
	rm -rf bin .zdplay
