# Sonevakt: two commands on a fresh machine.
#   make demo   builds, starts a collector (data in ./var/demo) and a local agent enrolled into it
#   make test   runs every test (what CI runs)

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -s -w -X github.com/sonevakt/sonevakt/pkg/buildinfo.Version=$(VERSION) -X github.com/sonevakt/sonevakt/pkg/buildinfo.Commit=$(COMMIT)
BIN      := bin
FUZZTIME ?=

# mkfs tools live in /usr/sbin, which a non-login shell may lack.
export PATH := $(PATH):/usr/sbin:/sbin



.PHONY: all build demo test test-deps vet fuzz bench bench-scale cross clean packages

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./agent/cmd/sonevakt-agent ./collector/cmd/sonevakt-collector

demo: build
	@scripts/demo.sh

test-deps:
	@scripts/test-deps.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...

cross:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./agent/cmd/sonevakt-agent ./collector/cmd/sonevakt-collector
	GOOS=windows GOARCH=arm64 $(GO) build -o /dev/null ./agent/cmd/sonevakt-agent ./collector/cmd/sonevakt-collector
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./agent/cmd/sonevakt-agent ./collector/cmd/sonevakt-collector

# Every fuzz target, by execution count (scripts/fuzz.sh); FUZZTIME=10m fuzzes each that long instead.
fuzz:
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' scripts/fuzz.sh

test: test-deps vet cross
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

bench:
	@scripts/bench.sh

# sonevakt-loadgen against a collector: 2 000 agents enrolling at once, 10 000 steady, an outage
# (docs/BENCHMARKS.md, Scale); OUTAGE=60s for a quick run, SONEVAKT_PG_DSN=… adds PostgreSQL.
bench-scale:
	@scripts/bench-scale.sh

# deb and rpm (amd64, arm64) of agent and collector, the Windows MSI, SHA256SUMS: into dist/.
packages:
	@scripts/packages.sh

clean:
	rm -rf $(BIN) var/demo dist
