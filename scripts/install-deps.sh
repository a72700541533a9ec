#!/usr/bin/env bash
# Installs what the build and the tests need: Debian packages, and the Claude Code CLI the
# service runs. Idempotent: packages already present are skipped, `apt-get update` runs at most
# once per call, and the CLI is installed only when its pinned version is not there yet.
# Works as root or through sudo.
# Usage: scripts/install-deps.sh [--test | --fuzz | --bench | --build-only]
#   (none)        the build, and the Claude Code CLI (npm) into $cli_prefix below, where the service
#                 finds it when CLAUDE_BIN is unset and no `claude` is on PATH (src/startup_checks.hpp)
#   --test        the same plus everything the test suite and CI need, fuzzing and clang-tidy included
#   --fuzz        the build plus clang and libFuzzer for the `fuzz` preset, see tests/fuzz/README.md
#   --bench       the build plus what bench/run.sh and bench/profile.py run, see docs/BENCHMARKS.md
#   --build-only  the build alone (the container's build stage; its runtime stage installs the CLI)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Keep in step with kInstalledClaudeBin in src/startup_checks.hpp.
cli_prefix=/usr/local/lib/claude-agent-service/claude-code
# The version the end-to-end tests run against (tests/e2e/package-lock.json), so the service
# runs the CLI whose output shapes the tests have seen.
cli_lock="$root/tests/e2e/package-lock.json"

build_pkgs=(
  build-essential cmake ninja-build git pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-filesystem1.81-dev
  libfmt-dev catch2 libsqlite3-dev prometheus-cpp-dev
  libpq-dev  # the PostgreSQL job store (DATABASE_URL), shared by replicas
  libssl-dev  # https completion webhooks (Beast over OpenSSL) and their signatures
)
# npm installs the Claude Code CLI (a native binary once installed: node's version does not matter).
cli_pkgs=(nodejs npm ca-certificates)
cli_pkgs+=(bubblewrap)  # AGENT_SANDBOX=bwrap: the agent's sandbox
# What the test suite drives besides the binary: curl for raw HTTP checks,
# node/npm for the real CLI and the official openai client, prometheus for promtool,
# systemd for `systemd-analyze verify` of the unit.
test_pkgs=(curl nodejs npm python3 prometheus systemd)
test_pkgs+=(chromium)    # headless screenshot and DOM of GET /docs (tests/e2e/docs.test.mjs)
test_pkgs+=(wrk)         # the load soak (bench/soak.sh)
test_pkgs+=(postgresql-15)  # a throwaway server per test run (tests/fixtures/postgres-server.sh)
test_pkgs+=(openssl)     # a test CA and certificate for the https webhook receiver
test_pkgs+=(clang-tidy)  # scripts/clang-tidy.sh in .ci/run (brings run-clang-tidy-14)
# clang 14 and its runtimes (libFuzzer, ASan, UBSan) for the `fuzz` preset (tests/fuzz).
fuzz_pkgs=(clang libclang-rt-14-dev)
# The side-by-side benchmarks: load tools, the reference app's runtime, nginx as the ceiling, perf.
bench_pkgs=(wrk hyperfine time nginx python3-fastapi python3-uvicorn linux-perf)

want=("${build_pkgs[@]}")
want_cli=false
case "${1:-}" in
  "") want+=("${cli_pkgs[@]}"); want_cli=true ;;
  --test) want+=("${cli_pkgs[@]}" "${test_pkgs[@]}" "${fuzz_pkgs[@]}"); want_cli=true ;;
  --fuzz) want+=("${fuzz_pkgs[@]}") ;;
  --bench) want+=("${bench_pkgs[@]}") ;;
  --build-only) ;;
  *) echo "usage: $0 [--test | --fuzz | --bench | --build-only]" >&2; exit 2 ;;
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

sudo_cmd=()
as_root() {
  if [[ $(id -u) -ne 0 && ${#sudo_cmd[@]} -eq 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to run: $*" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" "$@"
}

install_cli() {
  local version bin="$cli_prefix/node_modules/.bin/claude"
  version=$(node -e 'const lock = require(process.argv[1]);
    process.stdout.write(lock.packages["node_modules/@anthropic-ai/claude-code"].version)' "$cli_lock")
  # `--version` prints "2.1.330 (Claude Code)": a match also proves the binary runs here.
  if [[ -x "$bin" && "$("$bin" --version 2>/dev/null)" == "$version "* ]]; then
    echo "install-deps: Claude Code CLI $version present ($bin)"
    return
  fi
  echo "install-deps: installing the Claude Code CLI $version into $cli_prefix"
  as_root mkdir -p "$cli_prefix"
  # The CLI asks for node >= 22; bookworm's node 18 / npm 9 install it with an EBADENGINE warning.
  # npm 9 ignores the "libc" field and also fetches the musl build (~350 MB) that the postinstall
  # does not use: remove it.
  as_root npm install --prefix "$cli_prefix" --save-exact --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$version"
  as_root rm -rf "$cli_prefix"/node_modules/@anthropic-ai/claude-code-linux-*-musl
  "$bin" --version
}

install_npm_packages() {
  # The real Claude Code CLI and the official openai client, for the end-to-end tests,
  # pinned by tests/e2e/package-lock.json. Reinstalled only when the lock file changes.
  local dir="$root/tests/e2e"
  if [[ -x "$dir/node_modules/.bin/claude" && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    echo "install-deps: npm packages present"
    return
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
else
  echo "install-deps: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if $want_cli; then install_cli; fi
if [[ "${1:-}" == "--test" ]]; then install_npm_packages; fi
