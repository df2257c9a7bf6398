# zdplay: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/zdplay
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build images tools test demo bench lint fuzz clean swarm-lab swarm-lab-down

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/zdplay

# Every image is built locally (no registry is reachable): the demo app
# FROM scratch, nginx, haproxy and redis from Debian's packages.
images:
	@if docker info >/dev/null 2>&1; then bash testdata/images/build.sh; \
	else echo "make images: no Docker engine reachable: images not built (the end-to-end tests will say they skip)"; fi

# wrk (Debian's package) loads the proxy in one end-to-end test: a client
# nobody here wrote.
tools:
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null) || \
		echo "make tools: could not install wrk (apt-get install wrk): TestUpgradeUnderWrk will fail"

# All tests, the end-to-end ones against the real Docker engine included;
# one package at a time, so that load tests do not share 2 cores with others.
test: images tools
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m ./...

# Build, provision 0.0.1, upgrade to 0.0.2 under load, print the probe's verdict.
demo: build images
	bash testdata/demo.sh

# Minutes, not hours (never part of `make test`): the Go micro-benchmarks
# (bench/go-bench.txt), then upgrades of the demo stack under load by zdplay
# (with nginx and with -e proxy=haproxy, under GET and POST clients), by the
# bare steps (bench/floor.sh) and by the seed-002 Ansible design
# (bench/ansible/, when ansible-playbook and docker-compose are installed),
# and zdplay's no-op and converged runs: bench/results.json, bench/RESULTS.md
# and a chart per upgrade. BENCHFLAGS, e.g. -rounds 1 -cases zdplay-2,haproxy-2.
bench: build images
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 20m ./runner ./internal/... 2>&1 | tee bench/go-bench.txt
	bash bench/install-ansible.sh
	$(GO) run ./bench $(BENCHFLAGS)

# A 3-node Docker Swarm on this machine for trying playbooks/swarm.hcl (each
# node a dockerd in its own network namespace; needs root): prints each
# node's DOCKER_HOST. `make swarm-lab-down` removes it all.
swarm-lab: images
	bash testdata/swarm/lab.sh up

swarm-lab-down:
	bash testdata/swarm/lab.sh down

lint:
	@$(GO) mod tidy -diff || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)
	@test -z "$$(gofmt -l . | grep -v '^testdata/' | tee /dev/stderr)" || (echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# A minute of fuzzing: the loader, then the template kind with its size
# limits, 30 s each (their seed corpora run in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 30s ./runner
	$(GO) test -run '^$$' -fuzz FuzzTemplate -fuzztime 30s ./tasks

clean:
	rm -rf bin .zdplay
