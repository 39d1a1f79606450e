# deploydag: `make dags` regenerates the DAG gallery, `make test` builds and tests everything.
SWIFT ?= swift
DEPLOYDAG := .build/debug/deploydag

.PHONY: all deps build dags test unit-test check-dags lint format clean bench

all: build

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

dags: build
	scripts/make-dags.sh $(DEPLOYDAG) dags

unit-test: build
	scripts/run-tests.sh $(SWIFT)

check-dags: build
	scripts/check-dags.sh $(DEPLOYDAG)

lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format -i -r Sources Tests Package.swift

test: deps lint unit-test check-dags
	@scripts/test-summary.sh

clean:
	rm -rf .build

# Speed and memory against libcgraph's own parse (docs/benchmarks.md). Not part of `make test`.
bench: deps
	$(SWIFT) build -c release
	python3 scripts/bench.py
