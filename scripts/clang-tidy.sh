#!/usr/bin/env bash
# clang-tidy over every .cpp under src/ with the checks in .clang-tidy, whose WarningsAsErrors
# turns any finding into a failure. Uses a build's compile_commands.json (the `ci` build's by
# default: run after `cmake --workflow --preset ci`), runs on 2 cores, and is bounded in time:
# a run past CLANG_TIDY_TIMEOUT seconds fails instead of holding CI.
# Usage: scripts/clang-tidy.sh [BUILD_DIR]   (env: CLANG_TIDY_JOBS=2, CLANG_TIDY_TIMEOUT=1200)
# Needs run-clang-tidy-14 (Debian package clang-tidy; scripts/install-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/ci}
jobs=${CLANG_TIDY_JOBS:-2}
limit=${CLANG_TIDY_TIMEOUT:-1200}

die() { echo "clang-tidy: $*" >&2; exit 1; }
[[ -f $build/compile_commands.json ]] ||
  die "no $build/compile_commands.json: build first (cmake --workflow --preset ci)"
command -v run-clang-tidy-14 >/dev/null 2>&1 ||
  die "run-clang-tidy-14 not found (apt-get install clang-tidy, or scripts/install-deps.sh --test)"

# The compile database names the files; a regex keeps those under src/ (not tests/, bench/, or
# sources generated in the build directory). The commands are GCC's: clang-tidy parses them with
# clang, so a GCC-only warning flag must not become a finding. run-clang-tidy-14 always asks for
# colour; sed takes it out of the CI log (pipefail keeps the status of the run, or timeout's).
start=$SECONDS
status=0
timeout --kill-after=10 "$limit" run-clang-tidy-14 -p "$build" -j "$jobs" -quiet \
  -clang-tidy-binary clang-tidy-14 -extra-arg=-Wno-unknown-warning-option \
  "^$PWD/src/.*\.cpp\$" | sed 's/\x1b\[[0-9;]*m//g' || status=$?
elapsed=$((SECONDS - start))

files=$(grep -c "\"file\": \"$PWD/src/.*\.cpp\"" "$build/compile_commands.json" || true)
case $status in
  0) echo "clang-tidy: $files files under src/ clean in ${elapsed} s" ;;
  124 | 137) die "timed out after ${elapsed} s (CLANG_TIDY_TIMEOUT=$limit)" ;;
  *) die "findings above ($files files, ${elapsed} s); each one fails CI (.clang-tidy WarningsAsErrors)" ;;
esac
