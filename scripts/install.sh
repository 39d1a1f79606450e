#!/usr/bin/env bash
# Installs deploydag under PREFIX: the binary and its presets (SwiftPM's resource bundle, which
# the binary finds beside itself) in PREFIX/lib/deploydag with a link in PREFIX/bin, the man
# page generated from the argument parser, and bash, zsh and fish completion scripts.
#   scripts/install.sh PREFIX [SWIFT]    (CONFIG=debug installs a debug build)
set -euo pipefail

prefix=${1:?usage: install.sh PREFIX [SWIFT]}
swift=${2:-swift}
config=${CONFIG:-release}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$swift" build -c "$config" --product deploydag
bin=$("$swift" build -c "$config" --show-bin-path)

mkdir -p "$prefix/lib/deploydag" "$prefix/bin" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$bin/deploydag" "$prefix/lib/deploydag/deploydag"
rm -rf "$prefix/lib/deploydag/deploydag_DeploySpecs.resources"
cp -R "$bin/deploydag_DeploySpecs.resources" "$prefix/lib/deploydag/"
ln -sf ../lib/deploydag/deploydag "$prefix/bin/deploydag"

installed="$prefix/lib/deploydag/deploydag"
"$installed" docs man > "$prefix/share/man/man1/deploydag.1"
"$installed" --generate-completion-script bash > "$prefix/share/bash-completion/completions/deploydag"
"$installed" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_deploydag"
"$installed" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/deploydag.fish"
echo "installed deploydag in $prefix (bin/deploydag, share/man/man1/deploydag.1, completions for bash, zsh and fish)"
