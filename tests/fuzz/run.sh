#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time over a temporary copy of its seed corpus
# (tests/fuzz/corpus/<target>, never modified), then prints executions per target. Exits
# non-zero if any target crashes, leaks, times out or runs out of memory; the input that did
# it is saved in the artifacts directory and its path printed.
#
# Checks for bugs already reported and not yet fixed (one directory each in tests/fuzz/known/,
# holding the input that shows it) are turned off, so a run fails only on something new;
# `--known` instead replays those inputs with every check on and says which still fail.
#
# Build first: cmake --workflow --preset fuzz
# Usage: tests/fuzz/run.sh [-t SECONDS] [TARGET...]     (default: every target, 30 s each)
#        tests/fuzz/run.sh --known
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30; -t wins)
#   FUZZ_BUILD_DIR  where the targets are (default build/fuzz)
#   FUZZ_ARTIFACTS  where crashing inputs go (default $FUZZ_BUILD_DIR/artifacts)
#   FUZZ_CORPUS_OUT if set, each target's grown corpus is kept in $FUZZ_CORPUS_OUT/<target>
#                   (reused by the next run: the way to do long runs in steps)
#   FUZZ_FLAGS      extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   CAS_FUZZ_SKIP_KNOWN  checks to turn off (default: every directory in tests/fuzz/known;
#                   set it empty to turn all checks on)
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir="$(realpath -m "${FUZZ_BUILD_DIR:-build/fuzz}")"
# tests/fuzz/known may not exist (git keeps no empty directory): no known bugs then.
known_keys="$( { find tests/fuzz/known -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null || true; } | sort | paste -sd, -)"

if [[ "${1:-}" == "--known" ]]; then
  # Each known bug's input, with all checks on: still failing is expected until it is fixed.
  for input in tests/fuzz/known/*/*; do
    [[ -f "$input" ]] || continue
    key="$(basename "$(dirname "$input")")"
    target="$(basename "$input")"
    if CAS_FUZZ_SKIP_KNOWN= "$build_dir/$target" "$input" >/dev/null 2>&1; then
      echo "fixed:            $key ($target) -- delete tests/fuzz/known/$key to keep it fixed"
    else
      echo "still reproduces: $key ($target)"
    fi
  done
  exit 0
fi
export CAS_FUZZ_SKIP_KNOWN="${CAS_FUZZ_SKIP_KNOWN-$known_keys}"

all_targets=(http_request_fuzz json_bodies_fuzz cli_output_fuzz utf8_fuzz)
seconds="${FUZZ_SECONDS:-30}"
if [[ "${1:-}" == "-t" ]]; then
  seconds="$2"
  shift 2
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

artifacts="$(realpath -m "${FUZZ_ARTIFACTS:-$build_dir/artifacts}")"
mkdir -p "$artifacts"
src="$PWD/tests/fuzz"
work="$(mktemp -d "${TMPDIR:-/tmp}/cas-fuzz-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Leaks are reported per input; UBSan findings abort (the build uses -fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
summary=()
for target in "${targets[@]}"; do
  bin="$build_dir/$target"
  name="${target%_fuzz}"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $bin not built (cmake --workflow --preset fuzz)" >&2
    exit 2
  fi
  corpus="$work/corpus-$name"
  if [[ -n "${FUZZ_CORPUS_OUT:-}" ]]; then
    corpus="$(realpath -m "$FUZZ_CORPUS_OUT/$name")"
  fi
  mkdir -p "$corpus"
  cp -n "$src/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  # Largest input: past the 16 KiB header limit for requests; a few CLI lines or a body
  # otherwise (longer inputs mostly cost time without reaching new code).
  dict_flag=()
  max_len=8192
  case "$name" in
    http_request) dict_flag=(-dict="$src/dict/http_request.dict") max_len=20000 ;;
    json_bodies | cli_output) dict_flag=(-dict="$src/dict/json.dict") ;;
    utf8) max_len=4096 ;;
  esac
  log="$work/$name.log"
  echo "fuzz: $target for ${seconds}s"
  status=0
  before="$(find "$artifacts" -maxdepth 1 -name "$name-*" | wc -l)"
  # In the temp dir: with -jobs, libFuzzer writes each worker's fuzz-<n>.log to the current
  # directory; and TMPDIR there, so http_request_fuzz's data dir goes even after a crash.
  rm -f "$work"/fuzz-*.log
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  (cd "$work" && TMPDIR="$work" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "${dict_flag[@]}" \
    ${FUZZ_FLAGS:-} "$corpus") >"$log" 2>&1 || status=$?
  # With -jobs a worker's crash does not always reach the exit status: count the inputs saved.
  after="$(find "$artifacts" -maxdepth 1 -name "$name-*" | wc -l)"
  if [[ $status -eq 0 && $after -gt $before ]]; then status=1; fi
  # With -jobs the stats are in the workers' logs (summed); otherwise in the one log.
  stats=("$log")
  if compgen -G "$work/fuzz-*.log" >/dev/null; then stats=("$work"/fuzz-*.log); fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "${stats[@]}" | awk '{s += $1} END {if (NR) print s}')"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "${stats[@]}" | awk '{s += $1} END {if (NR) print s}')"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "${stats[@]}" | sort -n | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)"
  summary+=("$(printf '%-20s %12s execs %8s exec/s  %-10s peak %s MB' "$target" "${execs:-?}" "${rate:-?}" "${cov:-}" "${rss:-?}")")
  if [[ $status -ne 0 ]]; then
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $status); last lines of its log:" >&2
    tail -n 60 "$log" >&2
    grep -h 'Test unit written to' "$log" >&2 || true
  fi
done

echo
echo "fuzz summary (${seconds}s per target; known bugs not checked: ${CAS_FUZZ_SKIP_KNOWN:-none}):"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in: ${failed[*]} (inputs in $artifacts)" >&2
  exit 1
fi
