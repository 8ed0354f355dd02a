# nimbus: the two commands of the quick start are `make run` and `make test`.
GO      ?= go
BIN     := bin/nimbus
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Packages that hold concurrency: always tested with the race detector.
RACE_PKGS := ./internal/store/... ./internal/edge/... ./internal/sigv4/... ./internal/metrics/... ./internal/server/... \
	./internal/service/... ./internal/substrate/... ./internal/ec2/... ./internal/imds/... ./internal/lambdart/... ./internal/sandbox/fake/...
# Also raced, in -short mode (their real-runtime and AWS CLI tests run in unit).
RACE_SHORT_PKGS := ./internal/lambda/... ./internal/logs/... ./internal/iam/... ./internal/policy/... ./internal/s3/...

.PHONY: run test build deps deps-test vet unit race e2e bench clean

run: deps build
	./$(BIN) serve

# The sandbox shim is built alone first and embedded (nimbus_embedshim):
# a sandbox start then runs a 3 MB binary instead of re-executing nimbus.
# A plain `go build ./cmd/nimbus` works too and runs itself as the shim.
SHIM    := internal/sandbox/oci/shimbin/nimbus-shim

build:
	@mkdir -p $(dir $(SHIM))
	$(GO) build -trimpath -ldflags '-s -w' -o $(SHIM) ./cmd/nimbus-shim
	$(GO) build -trimpath -tags nimbus_embedshim -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/nimbus

deps:
	@./scripts/deps.sh run

deps-test:
	@./scripts/deps.sh test

test: deps-test vet unit race e2e

vet:
	@test -z "$$(gofmt -l cmd internal test bench)" || { echo "gofmt needed:"; gofmt -l cmd internal test bench; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./cmd/... ./internal/...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 -race -short $(RACE_SHORT_PKGS)

e2e: build
	NIMBUS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v ./test/e2e/...

bench: build
	NIMBUS_BIN=$(CURDIR)/$(BIN) ./bench/run.sh

clean:
	rm -rf bin $(SHIM)
