#!/usr/bin/env bash
# The interactive pages in a real browser: headless Chromium (Debian's `chromium`, installed
# here when missing) loads each page from a file, a search finds a node and selects it, the
# console stays silent, and a screenshot is saved (.build/check-html/). Skips, saying why, only
# when Chromium cannot be installed.
#   scripts/check-html.sh DEPLOYDAG
set -euo pipefail

deploydag=${1:?usage: check-html.sh DEPLOYDAG}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

find_browser() {
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
    done
    return 1
}

browser=$(find_browser || true)
if [ -z "$browser" ]; then
    why=""
    if ! command -v apt-get >/dev/null 2>&1; then
        why="no apt-get on this machine"
    else
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else why="not root and no password-less sudo"; fi
        fi
        if [ -z "$why" ]; then
            echo "check-html: installing chromium (apt-get) for the browser test" >&2
            if ! ($sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null) 2>/tmp/check-html-apt.$$; then
                why="apt-get install chromium failed: $(tail -n 1 /tmp/check-html-apt.$$)"
            fi
            rm -f /tmp/check-html-apt.$$
        fi
    fi
    browser=$(find_browser || true)
    if [ -z "$browser" ]; then
        echo "check-html: SKIPPED, Chromium cannot be installed here (${why:-not found after installing})"
        exit 0
    fi
fi

out=.build/check-html
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The pages: a gallery page as `make dags` writes it, and a hand-edited DAG with a fault.
"$deploydag" generate --preset tp8-pp2-dense-4l --layers 2 --view layer:0 -o "$work/layer0.dot"
sed 's/\("L0.softmax.gpu0" \[op="softmax", gpu="\)0"/\15"/' "$work/layer0.dot" >"$work/moved.dot"
"$deploydag" render "$work/layer0.dot" -o "$work/layer0.html"
status=0
"$deploydag" render "$work/moved.dot" -o "$work/moved.html" 2>/dev/null || status=$?
if [ "$status" -ne 1 ]; then
    echo "check-html: render of a DAG with a fault exited $status, expected 1" >&2
    exit 1
fi
cp dags/helix-dense-4l/report.html "$work/gallery.html"
# Hostile names: a node called __proto__ (JavaScript's own property) and one with an entity.
sed 's/\bln0\b/"__proto__"/g; s/\bact0\b/"a\&amp;b"/g' docs/example.dot >"$work/hostile.dot"
"$deploydag" render "$work/hostile.dot" -o "$work/hostile.html"

failures=0
# load PAGE QUERY EXPECTED-SELECTION [EXPECTED-TEXT]: loads PAGE#search=QUERY, checks the
# selection, the console, the page's own error count, and saves a screenshot.
load() {
    local page=$1 query=$2 expected=$3 text=${4:-}
    local name
    name=$(basename "$page" .html)-$query
    local url="file://$page#search=$query"
    local flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --enable-logging=stderr --v=0
        --virtual-time-budget=5000)
    if ! timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" >"$work/$name.dom" 2>"$work/$name.log"; then
        echo "check-html: $name: chromium failed (see below)" >&2
        tail -n 5 "$work/$name.log" >&2
        failures=$((failures + 1))
        return
    fi
    local body
    body=$(grep -o '<body[^>]*>' "$work/$name.dom" | head -n 1)
    local problems=()
    [[ "$body" == *'data-ready="true"'* ]] || problems+=("the page's script did not finish")
    [[ "$body" == *'data-js-errors="0"'* ]] || problems+=("the page counted script errors: $body")
    [[ "$body" == *"data-selected=\"$expected\""* ]] || problems+=("searching $query selected '${body#*data-selected=\"}', expected $expected")
    if grep -q 'CONSOLE' "$work/$name.log"; then problems+=("the console is not silent: $(grep 'CONSOLE' "$work/$name.log" | head -n 3)"); fi
    if [ -n "$text" ] && ! grep -q -- "$text" "$work/$name.dom"; then problems+=("the page lacks '$text'"); fi
    timeout 120 "$browser" "${flags[@]}" --window-size=1400,900 --screenshot="$root/$out/$name.png" "$url" >/dev/null 2>&1 || true
    if [ ! -s "$out/$name.png" ]; then problems+=("no screenshot"); fi
    if [ ${#problems[@]} -gt 0 ]; then
        for p in "${problems[@]}"; do echo "check-html: $name: $p" >&2; done
        failures=$((failures + 1))
    else
        echo "check-html: $name: '$query' selects $expected, console silent, screenshot $out/$name.png"
    fi
}

# A click or a search shows the node's attributes and its Get_Time.
load "$work/layer0.html" L0.q.gpu0 L0.q.gpu0 "<td>Get_Time</td><td>Get_Time(10240000, 8192, 1024)</td>"
# A folded GPU's node: the page selects the node drawn for it and says so.
load "$work/layer0.html" L0.fc1.gpu6 L0.fc1.gpu0 'data-alias="L0.fc1.gpu6"'
# The fault: listed among the findings, linked to its node.
load "$work/moved.html" L0.softmax.gpu0 L0.softmax.gpu0 'data-node="L0.softmax.gpu0"'
load "$work/gallery.html" L0.softmax.gpu0 L0.softmax.gpu0 'Valid'
load "$work/hostile.html" __proto__ __proto__ '<td>op</td><td>layernorm</td>'
load "$work/hostile.html" 'a%26amp%3Bb' 'a&amp;amp;b'
# Names no node has, and one that is not percent-encoding: nothing selected, no script error.
load "$work/layer0.html" constructor ''
load "$work/layer0.html" '100%' ''

if [ "$failures" -gt 0 ]; then
    echo "check-html: $failures page load(s) failed" >&2
    exit 1
fi
echo "check-html: the interactive pages work in $("$browser" --version 2>/dev/null | head -n 1)"
