#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need. Idempotent: packages
# already present are skipped, and `apt-get update` runs at most once per call.
# Works as root or through sudo. Usage: scripts/install-deps.sh [--test | --fuzz | --bench]
# (--test: everything the test suite and CI need, fuzzing included; --fuzz: the build plus clang
# and libFuzzer for the `fuzz` preset, see tests/fuzz/README.md; --bench: the build plus what
# bench/run.sh and bench/profile.py run, see docs/BENCHMARKS.md)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build git pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-filesystem1.81-dev
  libfmt-dev catch2 libsqlite3-dev prometheus-cpp-dev
)
# What the test suite drives besides the binary: curl for raw HTTP checks,
# node/npm for the real CLI and the official openai client, prometheus for promtool,
# systemd for `systemd-analyze verify` of the unit.
test_pkgs=(curl nodejs npm python3 prometheus systemd)
test_pkgs+=(chromium)  # headless screenshot and DOM of GET /docs (tests/e2e/docs.test.mjs)
test_pkgs+=(wrk)       # the load soak (bench/soak.sh)
# clang 14 and its runtimes (libFuzzer, ASan, UBSan) for the `fuzz` preset (tests/fuzz).
fuzz_pkgs=(clang libclang-rt-14-dev)
# The side-by-side benchmarks: load tools, the reference app's runtime, nginx as the ceiling, perf.
bench_pkgs=(wrk hyperfine time nginx python3-fastapi python3-uvicorn linux-perf)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --test) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  --fuzz) want+=("${fuzz_pkgs[@]}") ;;
  --bench) want+=("${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from outside Debian (e.g. nodesource); a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

install_npm_packages() {
  # The real Claude Code CLI and the official openai client, for the end-to-end tests,
  # pinned by tests/e2e/package-lock.json. Reinstalled only when the lock file changes.
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/e2e"
  if [[ -x "$dir/node_modules/.bin/claude" && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    echo "install-deps: npm packages present"
    return
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  if [[ "${1:-}" == "--test" ]]; then install_npm_packages; fi
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

if [[ "${1:-}" == "--test" ]]; then install_npm_packages; fi
