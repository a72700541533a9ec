#!/usr/bin/python3
"""Profile our release build under the wrk loads of bench/run.sh (64 connections, 2 threads):
GET /health, authed GET /jobs/{id} and the 401 path. For each: CPU time, syscalls and context
switches per request (perf stat, requests counted by /metrics), a perf profile with call graphs
(perf record --call-graph dwarf), and heap allocations per request (bench/malloc_count.c
preloaded, in a second instance). Needs what bench/run.sh builds; run it first, then:

  bench/profile.py [--seconds 8]      # ~1.5 minutes; writes bench/results/profile/

Reading: bench/results/profile/summary.txt, then flat-<name>.txt (self time by symbol) and
callers-<name>.txt (inclusive time: which callers the cost comes from).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the harness: client, service start-up)

TOKEN = bench.TOKEN


def requests_served(port):
    c = bench.Conn(port)
    _, _, body = c.request("GET", "/metrics", auth=False)
    c.close()
    return sum(int(float(m.group(1))) for m in
               re.finditer(rb'^cas_http_requests_total\{.*\} (\S+)$', body, re.M))


def start(binary, fake, tmp, name, preload=None, count_file=None):
    port = bench.free_port()
    ws = os.path.join(tmp, "ws")
    os.makedirs(ws, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "API_BEARER_TOKEN": TOKEN, "CLAUDE_BIN": fake,
           "WORKSPACE_DIR": ws, "DATA_DIR": os.path.join(tmp, "data-" + name), "GIT_SYNC": "off"}
    if preload:
        env.update(LD_PRELOAD=preload, MALLOC_COUNT_FILE=count_file)
    svc = bench.Service(name, [binary, "--port", str(port)], env, port, os.path.join(tmp, name + ".log"))
    svc.wait_ready()
    return svc


def make_job(svc):
    b = bench.Bench.__new__(bench.Bench)  # only its make_job, which needs nothing else
    job_id, record, size = bench.Bench.make_job(b, svc)
    return job_id, size


def wrk_background(port, path, headers, seconds):
    cmd = ["wrk", "-t2", "-c64", "-d", f"{seconds}s"]
    for h in headers:
        cmd += ["-H", h]
    return subprocess.Popen(cmd + [f"http://127.0.0.1:{port}{path}"], stdout=subprocess.DEVNULL)


# Inclusive share (perf report --children) of the functions worth a look, and self time by
# library: where a request's CPU goes.
HOT = [
    ("HTTP session (Server::Impl::session)", r"cas::http::Server::Impl::session$"),
    ("request copy-out (to_request)", r"cas::http::\(anonymous namespace\)::to_request$"),
    ("request id (random_hex → getrandom)", r"cas::random_hex"),
    ("per-request log line (cas::log::info)", r"cas::log::info$"),
    ("  of which ensure_valid_utf8", r"cas::ensure_valid_utf8"),
    ("metrics (Metrics::record_request)", r"cas::Metrics::record_request"),
    ("JSON response (http::json_response)", r"cas::http::json_response$"),
    ("job store read (SqliteJobStore::find)", r"cas::jobs::SqliteJobStore::find$"),
    ("  sqlite3_prepare_v2", r"^sqlite3_prepare_v2$"),
    ("  sqlite3_finalize", r"^sqlite3_finalize$"),
    ("  sqlite3_step", r"^sqlite3_step$"),
    ("  record JSON parse (cas::parse_json)", r"^cas::parse_json"),
    ("  job_from_json", r"cas::jobs::job_from_json"),
    ("record → JSON (jobs::to_json)", r"cas::jobs::to_json"),
    ("boost::json::serialize", r"boost::json::serialize"),
    ("malloc (all callers)", r"__GI___libc_malloc|^malloc$"),
    ("free (all callers)", r"__GI___libc_free|^cfree"),
    ("sendmsg (response write, incl. loopback delivery)", r"^__libc_sendmsg$"),
    ("recvmsg (request read)", r"^__recvmsg_syscall|^__libc_recvmsg$"),
    ("write(2) (log line to stderr)", r"^__GI___libc_write$|^__libc_write$"),
    ("timerfd_settime (timeouts re-armed)", r"timerfd_settime"),
    ("getrandom(2)", r"^getrandom$|__x64_sys_getrandom"),
    ("fcntl locks (SQLite)", r"fcntl_setlk|__x64_sys_fcntl"),
    ("run: process spawn (run_process)", r"^cas::agent::run_process$"),
    ("  Boost.Process default_launcher (fork+exec handshake)", r"default_launcher::operator\(\)"),
    ("  fork (_Fork)", r"_Fork"),
    ("  page faults (COW after fork)", r"^asm_exc_page_fault$"),
    ("run: sweep after exit (kill_descendants)", r"^cas::agent::kill_descendants$"),
    ("  /proc walk (descendants_of)", r"^cas::agent::descendants_of$"),
    ("  /proc/N/stat via ifstream (read_proc_file)", r"read_proc_file"),
    ("run: CLI output parse (parse_cli_result)", r"cas::agent::parse_cli_result"),
]


def hot_spots(out_dir, names):
    rows = {}
    for name in names:
        with open(os.path.join(out_dir, f"callers-{name}.txt")) as f:
            entries = []
            for line in f:
                m = re.match(r"\s+(\d+\.\d+)%\s+(\d+\.\d+)%\s+\[.\]\s+(.*?)(\s+-\s+-)?\s*$", line)
                if m:
                    entries.append((float(m.group(1)), m.group(3)))
        for label, pat in HOT:
            best = max((c for c, sym in entries if re.search(pat, sym)), default=None)
            rows.setdefault(label, {})[name] = best
        dsos = {}
        with open(os.path.join(out_dir, f"flat-{name}.txt")) as f:
            for line in f:
                m = re.match(r"\s+(\d+\.\d+)%\s+(\S+)", line)
                if m:
                    dsos[m.group(2)] = dsos.get(m.group(2), 0.0) + float(m.group(1))
        for dso, share in dsos.items():
            rows.setdefault(f"self time in {dso}", {})[name] = share
    out = ["inclusive % of samples (children), by load: " + "  ".join(f"{n:>12}" for n in names)]
    for label, by in rows.items():
        if all(v is None or v < 0.5 for v in by.values()):
            continue
        out.append(f"  {label[:60]:60} " + "  ".join(
            f"{by[n]:11.1f}%" if by.get(n) is not None else f"{'—':>12}" for n in names))
    return out


def perf_stat(pid, cmd, out):
    """perf stat on `pid` (and the children it starts) while `cmd` runs (a load, or a sleep
    while wrk runs)."""
    t0 = time.time()
    subprocess.run(["perf", "stat", "-x", ",", "-o", out, "-e",
                    "task-clock,context-switches,page-faults,raw_syscalls:sys_enter", "-p", str(pid),
                    "--"] + cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vals = {"elapsed_ms": (time.time() - t0) * 1000}
    with open(out) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 3 and parts[0] and parts[0][0].isdigit():
                vals[parts[2]] = float(parts[0])
    return vals


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "claude-agent-service"))
    tools = os.path.join(ROOT, "build", "release", "bench-tools")
    p.add_argument("--fake", default=os.path.join(tools, "fake-claude"))
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--frequency", type=int, default=999)
    p.add_argument("--out", default=os.path.join(HERE, "results", "profile"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    so = os.path.join(tools, "malloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so, os.path.join(HERE, "malloc_count.c")],
                   check=True)
    tmp = tempfile.mkdtemp(prefix="cas-profile-")
    summary = {}
    svc = start(a.binary, a.fake, tmp, "perf")
    job_id, record_bytes = make_job(svc)
    loads = [("health", "/health", []),
             ("get_job", f"/jobs/{job_id}", [f"Authorization: Bearer {TOKEN}"]),
             ("unauthorized", f"/jobs/{job_id}", ["Authorization: Bearer wrong"])]
    try:
        for name, path, headers in loads:
            bench.log(f"profiling {name}")
            w = wrk_background(svc.port, path, headers, 2 * a.seconds + 4)
            time.sleep(2)
            r0 = requests_served(svc.port)
            t0 = time.time()
            stat = perf_stat(svc.pid, ["sleep", str(a.seconds)], os.path.join(a.out, f"stat-{name}.csv"))
            n = requests_served(svc.port) - r0 - 1
            window = time.time() - t0
            data = os.path.join(a.out, f"perf-{name}.data")
            subprocess.run(["perf", "record", "-F", str(a.frequency), "--call-graph", "dwarf,16384",
                            "-p", str(svc.pid), "-o", data, "--", "sleep", str(a.seconds)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            w.wait()
            with open(os.path.join(a.out, f"flat-{name}.txt"), "w") as f:
                subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                                "--percent-limit", "0", "--sort", "dso,symbol"], stdout=f,
                               stderr=subprocess.DEVNULL, check=True)
            with open(os.path.join(a.out, f"callers-{name}.txt"), "w") as f:
                subprocess.run(["perf", "report", "-i", data, "--children", "--stdio", "-g", "none",
                                "--percent-limit", "0.5", "--sort", "symbol"], stdout=f,
                               stderr=subprocess.DEVNULL, check=True)
            summary[name] = {
                "requests_in_window": n, "req_per_s": n / window,
                "cpu_us_per_request": stat.get("task-clock", 0) * 1000 / max(1, n),  # msec → µs
                "syscalls_per_request": stat.get("raw_syscalls:sys_enter", 0) / max(1, n),
                "context_switches_per_request": stat.get("context-switches", 0) / max(1, n),
            }
            if name == "get_job":
                summary[name]["response_bytes"] = record_bytes
        # Sequential chat completions with the fake CLI: where a run's overhead goes.
        bench.log("profiling sequential chat completions")
        n = 300
        script = os.path.join(tmp, "completions.py")
        with open(script, "w") as f:
            f.write(f"""import sys, json
sys.dont_write_bytecode = True
sys.path.insert(0, {HERE!r})
import bench
c = bench.Conn({svc.port})
body = json.dumps({{"messages": [{{"role": "user", "content": "bench"}}]}}).encode()
for _ in range({n}):
    s, _, b = c.request("POST", "/v1/chat/completions", body)
    assert s == 200, (s, b)
""")
        stat = perf_stat(svc.pid, [sys.executable, script], os.path.join(a.out, "stat-completion.csv"))
        data = os.path.join(a.out, "perf-completion.data")
        subprocess.run(["perf", "record", "-F", str(2 * a.frequency), "--call-graph", "dwarf,16384",
                        "-p", str(svc.pid), "-o", data, "--", sys.executable, script],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for kind, extra in (("flat", ["--no-children", "--percent-limit", "0", "--sort", "comm,dso,symbol"]),
                            ("callers", ["--children", "--percent-limit", "0.5", "--sort", "symbol",
                                         "--comm", "claude-agent-se"])):
            with open(os.path.join(a.out, f"{kind}-completion.txt"), "w") as f:
                subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"] + extra, stdout=f,
                               stderr=subprocess.DEVNULL, check=True)
        summary["completion"] = {
            "requests_in_window": n,
            "cpu_us_per_request": stat.get("task-clock", 0) * 1000 / n,
            "syscalls_per_request": stat.get("raw_syscalls:sys_enter", 0) / n,
            "context_switches_per_request": stat.get("context-switches", 0) / n,
            "page_faults_per_request": stat.get("page-faults", 0) / n,
            "elapsed_ms_per_request": stat.get("elapsed_ms", 0) / n,
            "note": "perf stat follows the service and the fake CLIs it starts",
        }
        rss = svc.memory()
    finally:
        svc.stop()

    count_file = os.path.join(tmp, "malloc_count.txt")
    svc = start(a.binary, a.fake, tmp, "count", preload=so, count_file=count_file)
    try:
        job_id, _ = make_job(svc)
        loads[1] = ("get_job", f"/jobs/{job_id}", loads[1][2])
        loads[2] = ("unauthorized", f"/jobs/{job_id}", loads[2][2])
        for name, path, headers in loads:
            bench.log(f"counting allocations: {name}")
            w = wrk_background(svc.port, path, headers, 6)
            time.sleep(1)
            r0 = requests_served(svc.port)
            os.kill(svc.pid, signal.SIGUSR2)
            time.sleep(3)
            os.kill(svc.pid, signal.SIGUSR2)
            n = requests_served(svc.port) - r0 - 1
            w.wait()
            time.sleep(0.1)
            with open(count_file) as f:
                lines = f.read().splitlines()
            before, after = (dict(kv.split("=") for kv in line.split()) for line in lines[-2:])
            summary[name]["mallocs_per_request"] = (int(after["mallocs"]) - int(before["mallocs"])) / max(1, n)
            summary[name]["reallocs_per_request"] = (int(after["reallocs"]) - int(before["reallocs"])) / max(1, n)
            summary[name]["heap_bytes_per_request"] = (int(after["bytes"]) - int(before["bytes"])) / max(1, n)
    finally:
        svc.stop()

    summary["rss_after_profile_load"] = rss
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    lines = []
    c = summary["completion"]
    lines.append(f"completion    {c['elapsed_ms_per_request']:.2f} ms/req elapsed (sequential)  CPU "
                 f"{c['cpu_us_per_request']:.0f} us/req (service + fake CLI)  syscalls "
                 f"{c['syscalls_per_request']:.0f}/req  page faults {c['page_faults_per_request']:.0f}/req")
    for name, _, _ in loads:
        s = summary[name]
        lines.append(f"{name:13} {s['req_per_s']:8.0f} req/s under perf stat  CPU {s['cpu_us_per_request']:5.1f} us/req"
                     f"  syscalls {s['syscalls_per_request']:4.1f}/req  ctx switches "
                     f"{s['context_switches_per_request']:4.2f}/req  mallocs {s['mallocs_per_request']:5.1f}/req"
                     f"  ({s['heap_bytes_per_request']:.0f} B/req)")
        with open(os.path.join(a.out, f"flat-{name}.txt")) as f:
            top = [re.sub(r"\s+", " ", l).replace(" - -", "").strip()[:150]
                   for l in f if re.match(r"\s+\d+\.\d+%", l)][:12]
        lines += ["    " + l for l in top]
    text = "\n".join(lines)
    text += "\n\n" + "\n".join(hot_spots(a.out, [name for name, _, _ in loads] + ["completion"]))
    with open(os.path.join(a.out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
