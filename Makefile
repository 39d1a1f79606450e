# deploydag: `make dags` regenerates the DAG gallery, `make test` builds and tests everything.
SWIFT ?= swift
DEPLOYDAG := .build/debug/deploydag

.PHONY: all deps build dags docs calibrate test unit-test check-dags check-docs check-chakra check-html lint format clean bench install

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

# The command-line reference, generated from the argument parser (checked in; `make test` fails when stale).
docs: build
	$(DEPLOYDAG) docs cli-reference > docs/cli-reference.md

# docs/calibration.md: deploydag's figures beside published measurements (bench/calibration/,
# docs/calibration.md; checked by `make test`).
calibrate: build
	$(DEPLOYDAG) calibrate bench/calibration/published.yaml -o docs/calibration.md

check-docs: build
	scripts/check-docs.sh $(DEPLOYDAG)

# Chakra traces read back by a second decoder, Python's protobuf (installed with pip when missing).
check-chakra: build
	scripts/check-chakra.sh $(DEPLOYDAG)

# The interactive pages in headless Chromium (installed with apt-get when missing; skipped, with
# the reason printed, only where it cannot be installed).
check-html: build
	scripts/check-html.sh $(DEPLOYDAG)

# `make install PREFIX=/usr/local` (DESTDIR for staging): the release binary, its presets, a man
# page generated from the parser, and bash, zsh and fish completion scripts.
PREFIX ?= /usr/local
install:
	scripts/install.sh "$(DESTDIR)$(PREFIX)" $(SWIFT)

lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format -i -r Sources Tests Package.swift

test: deps lint unit-test check-dags check-docs check-chakra check-html
	@scripts/test-summary.sh

clean:
	rm -rf .build

# Speed and memory against libcgraph's own parse (docs/benchmarks.md). Not part of `make test`.
bench: deps
	$(SWIFT) build -c release
	python3 scripts/bench.py
