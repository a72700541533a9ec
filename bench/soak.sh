#!/usr/bin/env bash
# Bounded load soak (issue #7): the release binary on loopback under wrk for SECONDS at
# CONNECTIONS connections, with the fake CLI, a small queue and a fixed request mix
# (bench/soak.lua: 40% GET /health, 40% authed GET /jobs/{id}, 15% refused without a valid
# token, 5% POST /execute). It checks what a long-running service must not do under load:
#   - answer anything but 200/202/401/409/429 (each only where its request allows it; no 5xx),
#     or break connections (wrk's socket errors);
#   - die, hang, or stop answering /health;
#   - leak file descriptors (count /proc/PID/fd before and after, once the queue drained)
#     or leave CLI processes behind;
#   - lose a job or end one other than `completed`;
#   - log an error, or exit other than 0 on SIGTERM.
# RSS is reported (start / peak / end), not judged: a page cache and allocator pools may
# settle higher than the idle start. During the load RSS, fds and the listening socket's
# accept queue are sampled every 10 s. When the service hangs, what it waits on is printed
# and the temporary directory (service log, wrk output) is kept.
#
# Usage: bench/soak.sh [SECONDS] [CONNECTIONS]   (defaults 60 and 256)
# SOAK_BIN=path soaks another build (default: build/release, built here when stale).
# Exit status 0 when every check passed, 1 otherwise.
set -euo pipefail

duration=${1:-60}
connections=${2:-256}
root=$(cd "$(dirname "$0")/.." && pwd)
token="soak-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
queue_depth=4  # small, so submissions see both the queue and 429s
started=$SECONDS

work=$(mktemp -d)
service_pid=
wrk_pid=
cleanup() {
    local status=$?
    if [[ -n $wrk_pid ]]; then kill "$wrk_pid" 2>/dev/null || true; fi
    if [[ -n $service_pid ]]; then
        kill -TERM "$service_pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$service_pid" 2>/dev/null || true
    fi
    if ((status == 0)); then
        rm -rf "$work"
    else
        echo "soak: kept $work (service.log, wrk.out, results)" >&2
    fi
}
trap cleanup EXIT

failures=()
fail() {
    failures+=("$*")
    echo "FAIL: $*" >&2
}
die() {
    echo "soak: $*" >&2
    exit 1
}

if [[ -n ${SOAK_BIN:-} ]]; then
    bin=$SOAK_BIN
else
    bin=$root/build/release/claude-agent-service
    # Ninja rebuilds only what changed, so this is quick when the binary is current.
    if ! (cd "$root" && { [[ -f build/release/build.ninja ]] || cmake --preset release; } &&
        cmake --build --preset release) >"$work/build.log" 2>&1; then
        die "the release build failed: $(tail -20 "$work/build.log")"
    fi
fi
[[ -x $bin ]] || die "no binary at $bin"

# wrk and the service (both under this limit) each hold one fd per connection, plus
# their own files and the sockets of closed connections not yet reaped.
need_fds=$((connections + 256))
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= need_fds)) || die "fd limit $(ulimit -n) is below $need_fds"
# The service closes connections beyond MAX_CONNECTIONS (default 512); keep wrk's under it.
max_connections=$((connections + 64 > 512 ? connections + 64 : 512))

mkdir "$work/workspace" "$work/data"
# A clean environment, so no setting of the caller's shell changes what is measured.
env -i PATH="$PATH" HOME="$work" API_BEARER_TOKEN="$token" WORKSPACE_DIR="$work/workspace" \
    DATA_DIR="$work/data" GIT_SYNC=off CLAUDE_BIN="$root/tests/fixtures/fake-claude" \
    QUEUE_DEPTH=$queue_depth MAX_CONNECTIONS=$max_connections \
    "$bin" --port 0 2>"$work/service.log" &
service_pid=$!

port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$work/service.log")
    [[ -n $port ]] && break
    kill -0 "$service_pid" 2>/dev/null || die "service exited at start: $(cat "$work/service.log")"
    sleep 0.1
done
[[ -n $port ]] || die "service did not log its port"
base=http://127.0.0.1:$port

api() { curl -sS --max-time 5 -H "Authorization: Bearer $token" "$@"; }
# Prints a Python expression over the JSON document `d` read from stdin.
field() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$service_pid/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$service_pid/status"; }
fd_count() { find "/proc/$service_pid/fd" -mindepth 1 | wc -l; }
# "fd -> target" lines, for a diff when the counts differ.
fd_list() { find "/proc/$service_pid/fd" -mindepth 1 -printf '%f -> %l\n' | sort -n; }
# Connections the kernel has completed but the service has not accepted yet.
accept_queue() { ss -Hltn "sport = :$port" | awk '{print $2}'; }

# Waits up to $1 seconds for a job to finish; prints its final status.
wait_job() {
    local status
    for _ in $(seq $(($1 * 10))); do
        status=$(api "$base/jobs/$2" | field 'd["status"]')
        [[ $status == queued || $status == running ]] || break
        sleep 0.1
    done
    echo "$status"
}

# "BUSY PENDING": /health's busy flag and the number of queued plus running jobs; fails
# when the service does not answer.
queue_state() {
    local busy queued running
    busy=$(curl -sS --max-time 5 "$base/health" | field 'd["busy"]') &&
        queued=$(api "$base/jobs?status=queued&limit=1" | field 'len(d["jobs"])') &&
        running=$(api "$base/jobs?status=running&limit=1" | field 'len(d["jobs"])') &&
        echo "$busy $((queued + running))"
}

# What a service that stopped answering is doing: its state, the kernel call it waits in,
# its children and (with gdb) its stack.
diagnose() {
    local child
    echo "service $service_pid: state $(awk '{print $3}' "/proc/$service_pid/stat"), waiting in $(cat "/proc/$service_pid/wchan"), accept queue $(accept_queue)"
    for child in $(pgrep -P "$service_pid"); do
        echo "  child $child ($(tr '\0' ' ' <"/proc/$child/cmdline" | cut -c1-60)...): waiting in $(cat "/proc/$child/wchan")"
    done
    echo "  last log lines other than requests:"
    grep -v '"msg":"request"' "$work/service.log" | tail -3 | sed 's/^/    /'
    if command -v gdb >/dev/null; then
        echo "  stack (innermost first):"
        gdb -q -batch -p "$service_pid" -ex bt 2>/dev/null | grep '^#' | cut -c1-200 | head -4 |
            sed 's/^/    /'
    fi
}

# One finished job for the authed GETs, and the one-off allocations of a first run made
# before the baseline is taken.
job_id=$(api -X POST "$base/execute" -H 'Content-Type: application/json' \
    -d '{"prompt":"soak warm-up\nFAKE:sleep=0.05","agent":"soak-agent"}' | field 'd["job_id"]')
warmup_status=$(wait_job 30 "$job_id")
[[ $warmup_status == completed ]] || die "warm-up job $job_id ended $warmup_status"

fd_list >"$work/fd-before"
fd_before=$(wc -l <"$work/fd-before")
rss_start=$(rss_kib)

echo "soak: $duration s, $connections connections, 2 threads against $base (pid $service_pid)"
SOAK_RESULTS=$work/results wrk -t 2 -c "$connections" -d "${duration}s" --timeout 5s --latency \
    -s "$root/bench/soak.lua" "$base" -- "$token" "$job_id" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
# Samples at 5 s, 15 s, ... while wrk runs. The probe is a /health on a new connection:
# it waits in the accept queue like any new client, and answers nothing (000) when the
# service hangs (wrk does not count requests that never get an answer as timeouts).
samples=()
load_started=$SECONDS
next_sample=5
while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - load_started >= next_sample)) && kill -0 "$service_pid" 2>/dev/null; then
        probe=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} in %{time_total}s' "$base/health" || true)
        samples+=("$((SECONDS - load_started))s rss=$(rss_kib)KiB fds=$(fd_count) acceptq=$(accept_queue) probe=${probe}")
        next_sample=$((next_sample + 10))
    fi
done
wrk_rc=0
wait "$wrk_pid" || wrk_rc=$?
wrk_pid=
cat "$work/wrk.out"
((wrk_rc == 0)) || fail "wrk exited $wrk_rc"
[[ -s $work/results ]] || die "wrk wrote no results (the Lua script failed?)"
kill -0 "$service_pid" 2>/dev/null || die "service died under load: $(tail -5 "$work/service.log")"

# Queued and running jobs end on their own: wait up to 60 s for the slot and the queue
# to empty. A service that answers nothing in that time is hung.
drained=''
answered=''
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    if state=$(queue_state 2>/dev/null); then
        answered=yes
        if [[ $state == "False 0" ]]; then
            drained=yes
            break
        fi
    else
        answered=
    fi
    sleep 0.1
done

fd_after="n/a" health="n/a" children_note="n/a" jobs_total="n/a" jobs_statuses="n/a"
if [[ -n $drained ]]; then
    # The service closes each session once it reads the client's FIN; give stragglers a moment.
    for _ in $(seq 50); do
        (($(fd_count) == fd_before)) && break
        sleep 0.1
    done
    # Counted from the listing it reports: a count and a later listing can disagree while the
    # CLI started ahead replaces its pipes (CI once read 18, then listed 17).
    fd_list >"$work/fd-after"
    fd_after=$(wc -l <"$work/fd-after")
    if ((fd_after != fd_before)); then
        fail "fd count $fd_before before, $fd_after after"
        diff "$work/fd-before" "$work/fd-after" >&2 || true
    fi

    health=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$base/health" || true)
    [[ $health == 200 ]] || fail "GET /health after the load answered '$health'"
    children=$(pgrep -P "$service_pid" -a || true)
    children_note=${children:-none}
    # One child may be the CLI started ahead for the next run (WARM_CLI, on by default): the
    # service's own gauge says whether one waits, and it is the CLI, waiting on stream-json.
    waiting=$(curl -sS --max-time 5 "$base/metrics" | sed -n 's/^cas_warm_cli_waiting \([0-9]*\).*/\1/p')
    left=$children
    if [[ $waiting == 1 && $(wc -l <<<"$children") == 1 && $children == *"--input-format stream-json"* ]]; then
        left=
        children_note="the CLI started ahead for the next run: $children"
    fi
    [[ -z $left ]] || fail "processes left under the service: $children"

    # Every job the store holds: the warm-up, each 202 the soak counted, and any submission
    # whose answer was still in flight when wrk stopped.
    jobs=$(python3 - "$base" "$token" <<'EOF'
import json, sys, urllib.parse, urllib.request
base, token = sys.argv[1:3]
counts, odd, cursor = {}, [], None
while True:
    url = base + "/jobs?limit=200" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    page = json.load(urllib.request.urlopen(request, timeout=10))
    for job in page["jobs"]:
        counts[job["status"]] = counts.get(job["status"], 0) + 1
        if job["status"] != "completed" and len(odd) < 5:
            odd.append(f'{job["job_id"]}:{job["status"]}:{job.get("error")}')
    cursor = page.get("next_cursor")
    if not cursor:
        break
print(sum(counts.values()), " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
      " ".join(odd) or "-", sep="\t")
EOF
    )
    IFS=$'\t' read -r jobs_total jobs_statuses jobs_odd <<<"$jobs"
    [[ $jobs_statuses == "completed=$jobs_total" ]] ||
        fail "jobs not all completed: $jobs_statuses $jobs_odd"
elif [[ -n $answered ]]; then
    fail "the queue did not drain within 60 s after the load"
else
    fail "the service stopped answering (/health, /jobs) after the load"
    diagnose >&2
fi
rss_end=$(rss_kib)
rss_peak=$(hwm_kib)

result() { awk -v k="$1" '$1 == k {print $2}' "$work/results"; }
ms() { awk -v us="$(result "latency_$1_us")" 'BEGIN {printf "%.1f ms", us / 1000}'; }
accepted=$(awk '$1 == "status" && $2 == "submit" && $3 == 202 {print $4}' "$work/results")
accepted=${accepted:-0}
if [[ -n $drained ]] && ((jobs_total < accepted + 1)); then
    fail "$jobs_total jobs stored, but the soak counted $accepted accepted plus the warm-up"
fi
awk '$1 == "status" && $5 == "BAD" {found = 1} END {exit !found}' "$work/results" &&
    fail "unexpected statuses: $(awk '$5 == "BAD" {printf "%s %s x%s; ", $2, $3, $4}' "$work/results")"
awk '$1 == "bad_body" && $3 > 0 {found = 1} END {exit !found}' "$work/results" &&
    fail "answers without the expected body: $(awk '$1 == "bad_body" && $3 > 0 {printf "%s x%s; ", $2, $3}' "$work/results")"
# wrk has pre-raised limits and the service admits more than it opens, so on loopback a
# failed connect, a broken read/write or a 5 s timeout is the service's doing.
for kind in connect read write timeout; do
    (($(result "socket_$kind") == 0)) || fail "$(result "socket_$kind") socket $kind errors"
done

log_errors=$(grep -c '"level":"error"' "$work/service.log" || true)
log_warnings=$(grep -c '"level":"warn"' "$work/service.log" || true)
((log_errors == 0)) || fail "$log_errors error lines in the service log, first: $(grep -m1 '"level":"error"' "$work/service.log")"

# SIGTERM must end the service within its shutdown grace (30 s) and a margin.
# (bash reaps the exited child at once and keeps its status for `wait`.)
kill -TERM "$service_pid"
for _ in $(seq 400); do
    kill -0 "$service_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$service_pid" 2>/dev/null; then
    fail "service still running 40 s after SIGTERM"
    kill -KILL "$service_pid"
fi
exit_code=0
wait "$service_pid" || exit_code=$?
service_pid=
((exit_code == 0)) || fail "service exited $exit_code after SIGTERM"

requests=$(result requests)
echo
echo "== soak summary: $duration s, $connections connections, queue depth $queue_depth =="
echo "requests        $requests ($(awk -v n="$requests" -v us="$(result duration_us)" 'BEGIN {printf "%.0f", n / (us / 1e6)}') req/s)"
echo "latency         p50 $(ms p50), p90 $(ms p90), p99 $(ms p99), p99.9 $(ms p99.9), max $(ms max)"
echo "statuses (kind status count):"
awk '$1 == "status" {printf "  %-7s %s %9d%s\n", $2, $3, $4, $5 == "BAD" ? "  <- not allowed" : ""}' "$work/results"
echo "socket errors   connect $(result socket_connect), read $(result socket_read), write $(result socket_write), timeout $(result socket_timeout)"
echo "RSS (KiB)       start $rss_start, peak $rss_peak (VmHWM), end $rss_end"
echo "samples during the load:"
printf '  %s\n' "${samples[@]:-none}"
echo "fds             before $fd_before, after $fd_after"
echo "jobs            $accepted accepted (202) + 1 warm-up; stored $jobs_total: $jobs_statuses"
echo "children left   $children_note"
echo "service log     $log_errors errors, $log_warnings warnings"
echo "after the load  /health $health; SIGTERM exit $exit_code"
echo "elapsed         $((SECONDS - started)) s"
if ((${#failures[@]})); then
    echo "RESULT: FAIL (${#failures[@]})"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo "RESULT: PASS"
