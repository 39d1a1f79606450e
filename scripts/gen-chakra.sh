#!/usr/bin/env bash
# Regenerates Sources/ChakraTrace/chakra_et_def.pb.swift and Protos/chakra_et_def.desc from
# Protos/chakra_et_def.proto. Not part of `make`: the generated files are committed (building
# swift-protobuf's plugin takes minutes). Needs protoc (Debian's protobuf-compiler) and builds
# protoc-gen-swift from swift-protobuf 1.39.0, the version Package.swift depends on.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { apt-get update && apt-get install -y protobuf-compiler; }
plugin_dir=${PLUGIN_DIR:-/tmp/deploydag-swift-protobuf}
if [ ! -x "$plugin_dir/.build/debug/protoc-gen-swift" ]; then
    rm -rf "$plugin_dir"
    git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$plugin_dir"
    (cd "$plugin_dir" && swift build --product protoc-gen-swift)
fi
protoc --plugin=protoc-gen-swift="$plugin_dir/.build/debug/protoc-gen-swift" --swift_out=Sources/ChakraTrace \
    --swift_opt=Visibility=Public --proto_path=Protos Protos/chakra_et_def.proto
# (The generated file says "swift-format-ignore-file": the lint leaves it as protoc-gen-swift wrote it.)
protoc --proto_path=Protos --descriptor_set_out=Protos/chakra_et_def.desc Protos/chakra_et_def.proto
echo "gen-chakra: wrote Sources/ChakraTrace/chakra_et_def.pb.swift and Protos/chakra_et_def.desc"
