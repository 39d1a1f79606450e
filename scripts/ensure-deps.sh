#!/usr/bin/env bash
# Installs what deploydag needs beyond the Swift toolchain: graphviz (the `dot` binary and its
# plugins) and libgraphviz-dev (libcgraph and libgvc with their pkg-config files).
set -euo pipefail

have_all() {
    command -v dot >/dev/null 2>&1 \
        && command -v pkg-config >/dev/null 2>&1 \
        && pkg-config --exists libcgraph libgvc
}

if have_all; then
    exit 0
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "ensure-deps: the Swift toolchain is required (swift not found on PATH)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure-deps: graphviz and libgraphviz-dev are missing and this user cannot install them (not root, no sudo)" >&2
        exit 1
    fi
fi

echo "ensure-deps: installing graphviz, libgraphviz-dev and pkg-config with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends graphviz libgraphviz-dev pkg-config >/dev/null
# Register graphviz's layout and render plugins (libgvc loads them from this config).
$SUDO dot -c

if ! have_all; then
    echo "ensure-deps: graphviz was installed but libcgraph/libgvc are still not found by pkg-config" >&2
    exit 1
fi
