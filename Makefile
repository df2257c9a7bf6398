# zdplay: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/zdplay
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build images test demo bench lint fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/zdplay

# Every image is built locally (no registry is reachable): the demo app
# FROM scratch, nginx and redis from Debian's packages.
images:
	@if docker info >/dev/null 2>&1; then bash testdata/images/build.sh; \
	else echo "make images: no Docker engine reachable: images not built (the end-to-end tests will say they skip)"; fi

# All tests, the end-to-end ones against the real Docker engine included.
test: images
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

# Build, provision 0.0.1, upgrade to 0.0.2 under load, print the probe's verdict.
demo: build images
	bash testdata/demo.sh

bench: build images
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 30m ./... | tee bench/bench.txt

lint:
	@test -z "$$(gofmt -l . | grep -v '^testdata/' | tee /dev/stderr)" || (echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

# A longer fuzzing session of the loader (its seed corpus runs in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./runner

clean:
	rm -rf bin .zdplay
