#!/usr/bin/env bash
# Side-by-side benchmarks (issue #8): our release build, the reference app under uvicorn, and
# nginx `return 200` as the HTTP ceiling, on loopback. About 3-4 minutes; `--quick` about 1.
# See docs/BENCHMARKS.md.
#
#   bench/run.sh [--no-build] [--quick] [bench.py options, e.g. --duration 5 --bigout-mib 256]
#   BENCH_NICE=-10 bench/run.sh ...   # run every measured process at that nice value (root for < 0):
#                                     # on a machine shared with builds or fuzzers, keeps them out
#
# Builds the release preset (build/release: the service) and the ci preset's cas_bench_job_store
# unless --no-build, compiles the fake CLI and the start-up probe into build/release/bench-tools/,
# then runs bench/bench.py, which writes bench/results/latest.json and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build=1
args=()
for arg in "$@"; do
    case $arg in
        --no-build) build=0 ;;
        -h|--help) sed -n '2,13p' "$0"; /usr/bin/python3 bench/bench.py --help; exit 0 ;;
        *) args+=("$arg") ;;
    esac
done

missing=()
for tool in wrk hyperfine nginx cc git cmake; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -x /usr/bin/time ]] || missing+=("time (/usr/bin/time)")
/usr/bin/python3 -c 'import fastapi, uvicorn' 2>/dev/null || missing+=("python3-fastapi python3-uvicorn")
if ((${#missing[@]})); then
    echo "bench/run.sh: missing: ${missing[*]}" >&2
    echo "  scripts/install-deps.sh --bench" >&2
    exit 2
fi

binary=build/release/claude-agent-service
# The release preset builds the service alone; the job store's benchmark comes from `ci` (-O2).
store_bench=build/ci/bench/cas_bench_job_store
if ((build)) || [[ ! -x $binary || ! -x $store_bench ]]; then
    echo "[bench] building the release preset, and the store benchmark of the ci preset" >&2
    cmake --preset release >/dev/null
    cmake --build --preset release
    cmake --preset ci >/dev/null
    cmake --build --preset ci --target cas_bench_job_store
    mkdir -p build/release/bench-tools
    # What the binary was built from, for the results file.
    { git rev-parse --short HEAD; git status --porcelain --untracked-files=no src CMakeLists.txt cmake; } \
        > build/release/bench-tools/built-from 2>/dev/null || true
else
    newer=$(find src bench/job_store_bench.cpp -newer "$binary" -name '*.[ch]pp' | head -3)
    [[ -z $newer ]] || echo "[bench] warning: sources newer than $binary (stale build?): $newer" >&2
fi

tools=build/release/bench-tools
mkdir -p "$tools"
cc -O2 -Wall -Wextra -o "$tools/fake-claude" bench/fake_claude.c
cc -O2 -Wall -Wextra -o "$tools/startup_probe" bench/startup_probe.c

# Smoke test: the service answers a job with the fake CLI before we spend minutes on it.
/usr/bin/python3 - "$root/$binary" "$root/$tools/fake-claude" <<'PY'
import json, os, socket, subprocess, sys, tempfile, time, urllib.request
binary, fake = sys.argv[1:3]
with tempfile.TemporaryDirectory() as tmp:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    env = dict(PATH=os.environ["PATH"], API_BEARER_TOKEN="t", CLAUDE_BIN=fake, WORKSPACE_DIR=tmp,
               DATA_DIR=tmp, GIT_SYNC="off")
    p = subprocess.Popen([binary, "--port", str(port)], env=env, stderr=open(tmp + "/log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/health"); break
            except OSError:
                time.sleep(0.02)
        req = urllib.request.Request(url + "/execute", json.dumps({"prompt": "x", "agent": "a"}).encode(),
                                     {"Authorization": "Bearer t", "Content-Type": "application/json"})
        job = json.load(urllib.request.urlopen(req))["job_id"]
        for _ in range(200):
            time.sleep(0.02)
            if p.poll() is not None:
                sys.exit(f"smoke test: the service died (exit {p.returncode}) running a job:\n"
                         + open(tmp + "/log").read()[-2000:])
            rec = json.load(urllib.request.urlopen(urllib.request.Request(
                f"{url}/jobs/{job}", headers={"Authorization": "Bearer t"})))
            if rec["status"] != "running":
                break
        if rec["status"] != "completed":
            sys.exit(f"smoke test: job ended {rec['status']}: {rec.get('error')}")
    finally:
        if p.poll() is None:
            p.terminate(); p.wait()
print("[bench] smoke test passed", file=sys.stderr)
PY

exec nice -n "${BENCH_NICE:-0}" /usr/bin/python3 bench/bench.py --binary "$binary" --store-bench "$store_bench" \
    --fake "$root/$tools/fake-claude" --probe "$root/$tools/startup_probe" "${args[@]}"
