#!/usr/bin/python3
"""Warm CLI benchmark (issue #14): the real Claude Code CLI, offline against tests/e2e/messages-stub.mjs,
run directly (cold, and warm: started ahead, prompt written later) and through the service with
WARM_CLI=on and WARM_CLI=off, side by side in one run. See docs/BENCHMARKS.md, "Warm CLI (#14)".

    bench/warm_cli.py [--n 20] [--service build/release/claude-agent-service] [--claude PATH]
    bench/warm_cli.py --table bench/results/warm-cli-*.json

Needs node and `npm ci` in tests/e2e (the CLI and the stub). Takes about 4 minutes with --n 20.
Prints a table and writes bench/results/warm-cli-<timestamp>.json (bench/results is gitignored).

What is measured, each series sequential, one request at a time:
  - CLI cold, direct: `claude -p --agent recruiter-triage ... --output-format json`, prompt on stdin,
    spawn to exit (the reference of the #14 goals); also with the service's arguments (stream-json in
    and out), and warm: started, left `--settle` seconds, then the prompt line written and stdin
    closed; prompt to first line, first text delta, result line, exit.
  - Through the service (GIT_SYNC=off), warm and cold: non-streamed chat completion round trip,
    time to the first streamed token, /execute -> final status (GET /jobs/{id} every 5 ms). With
    WARM_CLI=on each request waits until the CLI started ahead has existed `--settle` seconds (its
    start-up done) and the hit counter is checked per request; with WARM_CLI=off each waits until the
    service is idle plus `--cold-gap`. A back-to-back completion series (the next request as soon
    as the previous answered) shows what is left of the warm gain without a pause.
  - The cost: RSS of the waiting CLI (and its descendants) and of the service, warm against cold.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
E2E = os.path.join(ROOT, "tests", "e2e")
TOKEN = "bench-warm-token"
AGENT = "recruiter-triage"
MODEL = "claude-sonnet-4-6"
TICK = os.sysconf("SC_CLK_TCK")
AGENT_TEXT = """---
name: recruiter-triage
description: Triages a recruiter message and drafts a short reply.
---
You are the recruiter triage agent. Classify the message and draft a reply.
"""
# The CLI's base arguments: what the service passes for a chat completion (cli_command.cpp).
CLI_BASE = ["-p", "--agent", AGENT, "--dangerously-skip-permissions", "--max-budget-usd", "2"]
STREAM_ARGS = ["--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
               "--include-partial-messages"]


def log(msg):
    print(f"[warm-cli {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


def summary(xs):
    """Median, p90, min and max of seconds, in ms."""
    if not xs:
        return None
    ms = [x * 1000 for x in xs]
    return {"n": len(ms), "median_ms": median(ms), "p90_ms": pct(ms, 0.9), "min_ms": min(ms),
            "max_ms": max(ms)}


# --------------------------------------------------------------------------- /proc
def proc_stat(pid):
    """{state, ppid, cpu_s, start_s} of a process (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return {"state": fields[0], "ppid": int(fields[1]),
            "cpu_s": (int(fields[11]) + int(fields[12])) / TICK, "start_s": int(fields[19]) / TICK}


def uptime_s():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def children_of(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:  # a child belongs to the thread that forked it
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def descendants_of(pid):
    out, todo = [], children_of(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children_of(p)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def waiting_clis(service_pid):
    """Live CLI processes the service started (every run reads --input-format stream-json)."""
    out = []
    for pid in children_of(service_pid):
        st = proc_stat(pid)
        if st and st["state"] != "Z" and b"--input-format" in cmdline(pid):
            out.append(pid)
    return out


# --------------------------------------------------------------------------- the stub and the CLI
class Fixture:
    """Temp dir with the workspace (a git repo holding the agent), HOME, and the stub."""

    def __init__(self, claude):
        self.claude = claude
        self.tmp = tempfile.mkdtemp(prefix="cas-warm-bench-")
        self.workspace = os.path.join(self.tmp, "workspace")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(self.workspace, ".claude", "agents"))
        os.makedirs(self.home)
        subprocess.run(["git", "init", "-q", self.workspace], check=True)
        with open(os.path.join(self.workspace, ".claude", "agents", AGENT + ".md"), "w") as f:
            f.write(AGENT_TEXT)
        self.stub = subprocess.Popen(
            ["node", os.path.join(E2E, "messages-stub.mjs"), "--port", "0"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.tmp, "stub.log"), "w"),
            env={"PATH": os.environ["PATH"], "HOME": self.home}, text=True)
        line = self.stub.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            raise SystemExit(f"the stub did not start: {line}")
        self.stub_port = int(line[1])
        self.procs = []

    def cli_env(self):
        return {"PATH": os.environ["PATH"], "HOME": self.home,
                "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.stub_port}",
                "ANTHROPIC_API_KEY": "stub-key", "IS_SANDBOX": "1", "DISABLE_AUTOUPDATER": "1",
                "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}

    def cleanup(self, keep=False):
        for p in self.procs + [self.stub]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def cli_cold_json(fx, i):
    """Spawn to exit of `claude -p ... --output-format json`, the prompt on stdin."""
    prompt = f"warm-cli bench cold {i}: a recruiter offers a C++ role".encode()
    t0 = time.perf_counter()
    p = subprocess.run([fx.claude] + CLI_BASE + ["--output-format", "json", "--model", MODEL],
                       input=prompt, cwd=fx.workspace, env=fx.cli_env(), capture_output=True, timeout=120)
    dt = time.perf_counter() - t0
    out = json.loads(p.stdout)
    if p.returncode != 0 or "STUB-REPLY" not in out.get("result", ""):
        raise SystemExit(f"CLI cold run failed: exit {p.returncode}: {p.stdout[:500]!r} {p.stderr[:500]!r}")
    return dt


def prompt_line(text):
    return (json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n").encode()


def cli_stream(fx, i, settle):
    """The service's arguments (stream-json in and out). settle None: cold, the prompt line written
    at once, times from spawn. settle S: warm, spawned and left S seconds, times from the prompt.
    Returns {first_line, first_delta, result, exit (s), startup_done (s after spawn: the CPU time of
    the waiting process stopped growing), startup_cpu (s), rss_mib (waiting)}."""
    t_spawn = time.perf_counter()
    p = subprocess.Popen([fx.claude] + CLI_BASE + STREAM_ARGS + ["--model", MODEL], cwd=fx.workspace,
                         env=fx.cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = {}
    if settle is not None:
        last_cpu, last_change = 0.0, 0.0
        while time.perf_counter() - t_spawn < settle:
            st = proc_stat(p.pid)
            if st and st["cpu_s"] != last_cpu:
                last_cpu, last_change = st["cpu_s"], time.perf_counter() - t_spawn
            time.sleep(0.01)
        out["startup_done"] = last_change
        out["startup_cpu"] = last_cpu
        out["rss_mib"] = rss_mib(p.pid)
        kids = descendants_of(p.pid)
        out["descendants"] = len(kids)
        out["rss_tree_mib"] = out["rss_mib"] + sum(rss_mib(k) or 0 for k in kids)
    t0 = time.perf_counter()
    p.stdin.write(prompt_line(f"warm-cli bench direct {i}: a recruiter offers a C++ role"))
    p.stdin.close()
    result = None
    for line in p.stdout:
        now = time.perf_counter() - t0
        out.setdefault("first_line", now)
        o = json.loads(line)
        if o.get("type") == "stream_event" and o["event"].get("type") == "content_block_delta":
            out.setdefault("first_delta", now)
        if o.get("type") == "result":
            out["result"] = now
            result = o
    p.wait()
    out["exit"] = time.perf_counter() - t0
    if p.returncode != 0 or not result or "STUB-REPLY" not in result.get("result", ""):
        raise SystemExit(f"CLI stream-json run failed: exit {p.returncode}, result {result}")
    # The CLI's own account of the turn (ms from its start of the turn): to the API request, to
    # the first token, to the end of the turn; and the API call's own duration.
    for key in ("time_to_request_ms", "ttft_ms", "duration_api_ms", "duration_ms"):
        out["cli_" + key] = result.get(key)
    return out


def stub_round_trip(fx):
    """One streamed POST /v1/messages straight to the stub: the API's share of a turn."""
    body = json.dumps({"model": MODEL, "max_tokens": 1024, "stream": True,
                       "messages": [{"role": "user", "content": "warm-cli bench: a recruiter writes"}]})
    conn = http.client.HTTPConnection("127.0.0.1", fx.stub_port, timeout=30)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/messages?beta=true", body, {"Content-Type": "application/json",
                                                          "x-api-key": "stub-key"})
    resp = conn.getresponse()
    data = resp.read()
    dt = time.perf_counter() - t0
    conn.close()
    if resp.status != 200 or b"STUB-REPLY" not in data:
        raise SystemExit(f"stub: {resp.status} {data[:300]!r}")
    return dt


def idle_share(seconds):
    """Share of the machine's CPU time idle over `seconds`."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t0, i0 = read()
    time.sleep(seconds)
    t1, i1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def wait_quiet(limit):
    """Until the machine is >= 90% idle over 5 s, at most `limit` seconds; the last idle share."""
    deadline = time.time() + limit
    while True:
        idle = idle_share(5)
        if idle >= 0.9 or time.time() >= deadline:
            return idle
        log(f"machine {idle * 100:.0f}% idle; waiting for >= 90% (--wait-quiet)")


def cpu_totals():
    """(machine busy CPU seconds, this process's and its reaped children's CPU seconds)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = (sum(v) - v[3] - v[4]) / TICK
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


# --------------------------------------------------------------------------- the service
class Service:
    def __init__(self, fx, binary, warm, name):
        self.fx = fx
        self.warm = warm
        self.data = os.path.join(fx.tmp, f"data-{name}")
        self.logfile = os.path.join(fx.tmp, f"service-{name}.log")
        env = fx.cli_env()
        env.update({"API_BEARER_TOKEN": TOKEN, "CLAUDE_BIN": fx.claude, "WORKSPACE_DIR": fx.workspace,
                    "DATA_DIR": self.data, "GIT_SYNC": "off", "WARM_CLI": "on" if warm else "off",
                    "OPENAI_AGENT": AGENT, "OPENAI_DEFAULT_MODEL": MODEL, "LOG_LEVEL": "info"})
        with open(self.logfile, "w") as logf:
            self.proc = subprocess.Popen([binary, "--port", "0"], env=env, cwd=fx.tmp, stdout=logf,
                                         stderr=logf)
        fx.procs.append(self.proc)
        self.port = None
        deadline = time.time() + 15
        while self.port is None:
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"service did not start:\n{open(self.logfile).read()[-2000:]}")
            with open(self.logfile) as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("msg") == "listening" and isinstance(entry.get("port"), int):
                        self.port = entry["port"]
            time.sleep(0.01)
        self.conn = None

    def connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None, raw=False):
        if self.conn is None:
            self.connect()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, payload, headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.connect()  # a closed keep-alive connection: once more on a fresh one
            self.conn.request(method, path, payload, headers)
            resp = self.conn.getresponse()
        if raw:
            return resp
        data = resp.read()
        return resp.status, data

    def busy(self):
        status, data = self.request("GET", "/health")
        return json.loads(data)["busy"]

    def counters(self):
        status, data = self.request("GET", "/metrics")
        out = {"hits": 0}
        for line in data.decode().splitlines():
            if line.startswith("cas_warm_cli_"):
                name, value = line.rsplit(None, 1)
                if name == "cas_warm_cli_hits_total":
                    out["hits"] = int(float(value))
                else:
                    out[name.replace("cas_warm_cli_", "").replace("_total", "")] = int(float(value))
        return out

    def wait_ready(self, settle, cold_gap, timeout=30):
        """Warm: until the service is idle and exactly one CLI waits below it, started at least
        `settle` s ago; its pid. Cold: until idle, then `cold_gap` s; None."""
        deadline = time.time() + timeout
        while True:
            if not self.busy():
                if not self.warm:
                    time.sleep(cold_gap)
                    return None
                clis = waiting_clis(self.proc.pid)
                if len(clis) == 1:
                    st = proc_stat(clis[0])
                    age = uptime_s() - st["start_s"] if st else 0
                    if age >= settle:
                        return clis[0]
                    time.sleep(min(0.05, settle - age + 0.005))
                    continue
            if time.time() > deadline:
                raise SystemExit(f"no idle service with one waiting CLI within {timeout} s; "
                                 f"CLIs: {waiting_clis(self.proc.pid)}\n{self.tail()}")
            time.sleep(0.01)

    def tail(self):
        lines = [l for l in open(self.logfile).read().splitlines() if '"method":"GET"' not in l]
        return "\n".join(lines[-20:])

    def stop(self):
        if self.conn:
            self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def retry_busy(svc, send, is_busy):
    """send() until it is not answered busy; (elapsed from the first attempt, result, retries)."""
    retries = 0
    t0 = time.perf_counter()
    while True:
        res = send(t0)
        if not is_busy(res):
            return time.perf_counter() - t0, res, retries
        retries += 1
        time.sleep(0.002)


def chat_body(i, stream):
    return {"model": MODEL, "stream": stream,
            "messages": [{"role": "user", "content": f"warm-cli bench {i}: a recruiter offers a C++ role"}]}


def completion(svc, i):
    def send(_t0):
        return svc.request("POST", "/v1/chat/completions", chat_body(i, False))
    dt, (status, data), retries = retry_busy(svc, send, lambda r: r[0] == 503)
    if status != 200 or "STUB-REPLY" not in json.loads(data)["choices"][0]["message"]["content"]:
        raise SystemExit(f"completion failed: {status} {data[:500]!r}\n{svc.tail()}")
    return {"s": dt, "retries": retries}


def streamed(svc, i):
    """Time to the first chunk with non-empty choices[0].delta.content, and to the end."""
    def send(t0):
        resp = svc.request("POST", "/v1/chat/completions", chat_body(i, True), raw=True)
        if resp.status != 200:
            return resp.status, resp.read(), None, None
        first, text = None, ""
        while True:
            line = resp.readline()
            if not line:
                break
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                continue
            chunk = json.loads(data)
            content = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if content:
                if first is None:
                    first = time.perf_counter() - t0
                text += content
        return 200, text.encode(), first, time.perf_counter() - t0
    _, (status, text, first, total), retries = retry_busy(svc, send, lambda r: r[0] == 503)
    if status != 200 or first is None or b"STUB-REPLY" not in text:
        raise SystemExit(f"streamed completion failed: {status} {text[:500]!r}\n{svc.tail()}")
    return {"s": first, "total_s": total, "retries": retries}


def execute(svc, i):
    """POST /execute, then GET /jobs/{id} every 5 ms until the status is final."""
    def send(_t0):
        return svc.request("POST", "/execute", {"prompt": f"warm-cli bench job {i}: a recruiter writes",
                                                "agent": AGENT})
    _, (status, data), retries = retry_busy(svc, send, lambda r: r[0] == 409)
    if status != 202:
        raise SystemExit(f"POST /execute: {status} {data[:500]!r}")
    job = json.loads(data)["job_id"]
    while True:
        _, rec = svc.request("GET", f"/jobs/{job}")
        rec = json.loads(rec)
        if rec.get("status") not in ("running", "queued"):
            break
        time.sleep(0.005)
    if rec["status"] != "completed" or "STUB-REPLY" not in (rec.get("result") or ""):
        raise SystemExit(f"job {job} ended {rec.get('status')}: {json.dumps(rec)[:500]}\n{svc.tail()}")
    return {"retries": retries}


def timed_execute(svc, i):
    t0 = time.perf_counter()
    out = execute(svc, i)
    out["s"] = time.perf_counter() - t0
    return out


def run_series(svc, what, fn, n, args, skip_first=False, back_to_back=False):
    """n measured requests (n+1 with skip_first: the first is a warm-up, excluded).
    Each but back-to-back ones waits for a settled warm CLI (WARM_CLI=on) or idle + gap (off)."""
    rows = []
    total = n + (1 if skip_first else 0)
    c_start = svc.counters()
    for i in range(total):
        if back_to_back:
            before = None
        else:
            svc.wait_ready(args.settle, args.cold_gap)
            before = svc.counters()
        r = fn(svc, i)
        if before is not None:
            after = svc.counters()
            r["hit"] = after["hits"] - before["hits"]
        r["warmup"] = skip_first and i == 0
        rows.append(r)
    if back_to_back:
        svc.wait_ready(0, 0)
    c_end = svc.counters()
    measured = [r for r in rows if not r["warmup"]]
    out = summary([r["s"] for r in measured])
    out["raw_ms"] = [round(r["s"] * 1000, 2) for r in measured]
    if not back_to_back:
        out["hits"] = sum(r["hit"] for r in measured)
    out["retries_busy"] = sum(r["retries"] for r in measured)
    out["counters_moved"] = {k: c_end.get(k, 0) - c_start.get(k, 0) for k in c_end
                             if c_end.get(k, 0) != c_start.get(k, 0)}
    if skip_first:
        out["warmup_excluded"] = {"ms": round(rows[0]["s"] * 1000, 2), "hit": rows[0].get("hit")}
    if "total_s" in rows[0]:
        out["total"] = summary([r["total_s"] for r in measured])
    label = "warm" if svc.warm else "cold"
    extra = f", hits {out['hits']}/{n}" if "hits" in out else f", counters {out['counters_moved']}"
    log(f"  {what} ({label}): median {out['median_ms']:.1f} ms, p90 {out['p90_ms']:.1f} ms{extra}")
    return out


def service_series(fx, args, warm):
    label = "warm" if warm else "cold"
    log(f"service, WARM_CLI={'on' if warm else 'off'}")
    svc = Service(fx, args.service, warm, label)
    res = {}
    try:
        svc.wait_ready(args.settle, args.cold_gap)
        res["completion"] = run_series(svc, "completion", completion, args.n, args)
        res["completion_back_to_back"] = run_series(svc, "completion back to back", completion, args.n,
                                                    args, back_to_back=True)
        res["first_token"] = run_series(svc, "first streamed token", streamed, args.n, args)
        # The first job's arguments differ from a completion's (agent only, no --model): with
        # WARM_CLI=on it is a miss, and excluded; cold likewise, for the same count.
        res["execute"] = run_series(svc, "/execute -> done", timed_execute, args.n, args, skip_first=True)
        # The cost, idle: the service, and the CLI waiting below it.
        pid = svc.wait_ready(args.settle, 0)
        time.sleep(0.5)
        res["idle"] = {"service_rss_mib": rss_mib(svc.proc.pid)}
        if pid:
            kids = descendants_of(pid)
            st = proc_stat(pid)
            res["idle"].update({
                "cli_rss_mib": rss_mib(pid), "cli_descendants": len(kids),
                "cli_tree_rss_mib": (rss_mib(pid) or 0) + sum(rss_mib(k) or 0 for k in kids),
                "cli_startup_cpu_s": st["cpu_s"] if st else None})
        log(f"  idle: {res['idle']}")
        res["counters"] = svc.counters()
    finally:
        svc.stop()
    return res


# --------------------------------------------------------------------------- report
def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1])
    git = lambda *a: subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "mem_gib": round(mem / 1024 / 1024, 1), "git_head": git("rev-parse", "--short", "HEAD"),
            "src_modified_files": git("status", "--porcelain", "--untracked-files=no", "src").splitlines(),
            "loadavg_start": open("/proc/loadavg").read().split()[:3]}


def print_table(res):
    ref = res["cli"]["cold_json"]["median_ms"]
    w, c = res["service_warm"], res["service_cold"]

    def ms(s, key="median_ms"):
        return f"{s[key]:.0f}" if s and s.get(key) is not None else "—"

    def ratio(s):
        return f"{s['median_ms'] / ref:.2f}×" if s else "—"

    rows = [("figure", "warm median (p90) ms", "cold median (p90) ms", "warm/CLI-cold", "cold/CLI-cold",
             "goal", "met", "warm hits")]
    cli = res["cli"]
    rows.append(("CLI cold, direct (json): spawn → exit", "", f"{ms(cli['cold_json'])} ({ms(cli['cold_json'], 'p90_ms')})",
                 "", "1.00×", "reference", "", ""))
    rows.append(("CLI, service's arguments (stream-json): → exit", f"{ms(cli['warm']['exit'])} ({ms(cli['warm']['exit'], 'p90_ms')})",
                 f"{ms(cli['cold_stream']['exit'])} ({ms(cli['cold_stream']['exit'], 'p90_ms')})",
                 ratio(cli["warm"]["exit"]), ratio(cli["cold_stream"]["exit"]), "", "", ""))
    for key, name in (("result", "→ result line"), ("first_delta", "→ first text delta"),
                      ("first_line", "→ first line")):
        rows.append((f"  CLI direct {name}", ms(cli["warm"][key]), ms(cli["cold_stream"][key]),
                     ratio(cli["warm"][key]), ratio(cli["cold_stream"][key]), "", "", ""))
    goals = {"completion": 0.3, "first_token": 0.4, "execute": 0.4}
    names = {"completion": "chat completion round trip", "completion_back_to_back": "  back to back (no pause)",
             "first_token": "first streamed token", "execute": "/execute → done (poll 5 ms)"}
    for key in ("completion", "completion_back_to_back", "first_token", "execute"):
        g = goals.get(key)
        met = "" if g is None else ("yes" if w[key]["median_ms"] <= g * ref else "**no**")
        hits = f"{w[key]['hits']}/{w[key]['n']}" if "hits" in w[key] else \
            f"{w[key]['counters_moved'].get('hits', 0)}/{w[key]['n']}"
        rows.append((names[key], f"{ms(w[key])} ({ms(w[key], 'p90_ms')})", f"{ms(c[key])} ({ms(c[key], 'p90_ms')})",
                     ratio(w[key]), ratio(c[key]), f"≤ {g}× CLI-cold" if g else "", met, hits))
    rows.append(("  streamed completion, to the end", ms(w["first_token"]["total"]), ms(c["first_token"]["total"]),
                 ratio(w["first_token"]["total"]), ratio(c["first_token"]["total"]), "", "", ""))
    ov = res["overhead"]
    rows.append(("service overhead: completion − CLI → exit", f"{ov['warm_ms']:.0f}", f"{ov['cold_ms']:.0f}",
                 "", "", "", "", ""))
    wi, ci = w["idle"], c["idle"]
    rows.append(("idle RSS: service (MiB)", f"{wi['service_rss_mib']:.1f}", f"{ci['service_rss_mib']:.1f}",
                 "", "", "", "", ""))
    rows.append(("idle RSS: waiting CLI (+ descendants) (MiB)",
                 f"{wi.get('cli_rss_mib', 0):.1f} ({wi.get('cli_tree_rss_mib', 0):.1f}, {wi.get('cli_descendants')} desc.)",
                 "—", "", "", "", "", ""))
    rows.append(("CPU of a waiting CLI's start-up (ms)", f"{wi.get('cli_startup_cpu_s', 0) * 1000:.0f}", "—",
                 "", "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(r)))
    st = cli["warm"]
    print(f"\nCLI start-up while waiting: CPU stops growing {st['startup_done']['median_ms']:.0f} ms after spawn "
          f"(median), {st['startup_cpu']['median_ms']:.0f} ms of CPU; waiting CLI RSS {st['rss_mib']:.1f} MiB.")
    print(f"CLI warm, its own account (median): API request sent {st['cli_reported_time_to_request_ms']:.0f} ms, "
          f"first token {st['cli_reported_ttft_ms']:.0f} ms, turn done {st['cli_reported_duration_ms']:.0f} ms after "
          f"its turn began; the stub's own round trip {res['stub_round_trip']['median_ms']:.1f} ms.")
    share = res["machine"]["foreign_cpu_share"]
    print(f"Other processes used {share * 100:.0f}% of the machine's CPU during the run"
          + (" (not quiet: figures are inflated)" if share > 0.05 else "") + f"; {res['seconds']} s.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="requests per series (default 20)")
    ap.add_argument("--service", default=os.path.join(ROOT, "build", "release", "claude-agent-service"),
                    help="the service binary (default build/release/claude-agent-service)")
    ap.add_argument("--claude", default=os.path.join(E2E, "node_modules", ".bin", "claude"),
                    help="the Claude Code CLI (default tests/e2e/node_modules/.bin/claude)")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds a CLI started ahead exists before a warm request (default 1.0; "
                         "its start-up takes ~0.4)")
    ap.add_argument("--cold-gap", type=float, default=0.25,
                    help="pause before each cold request once the service is idle (default 0.25 s)")
    ap.add_argument("--out", help="results file (default bench/results/warm-cli-<timestamp>.json)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="first wait up to S seconds for the machine to be >= 90%% idle over 5 s")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, workspace)")
    ap.add_argument("--table", nargs="+", metavar="FILE", help="print the table of earlier results files")
    args = ap.parse_args()
    if args.table:
        for path in args.table:
            print(f"== {path}")
            print_table(json.load(open(path)))
        return
    args.service = os.path.abspath(args.service)
    args.claude = os.path.abspath(args.claude)
    for path, hint in ((args.service, "build it: cmake --preset release && cmake --build --preset release"),
                       (args.claude, "run `npm ci` in tests/e2e")):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} is not executable ({hint})")
    if not shutil.which("node"):
        raise SystemExit("node is needed for tests/e2e/messages-stub.mjs")

    if args.wait_quiet:
        idle = wait_quiet(args.wait_quiet)
        log(f"machine {idle * 100:.0f}% idle; starting")
    started = datetime.datetime.now(datetime.timezone.utc)
    res = {"started": started.isoformat(timespec="seconds"), "machine": machine_info(),
           "settings": {"n": args.n, "settle_s": args.settle, "cold_gap_s": args.cold_gap,
                        "service": args.service, "claude": args.claude, "model": MODEL, "agent": AGENT}}
    res["claude_version"] = subprocess.run([args.claude, "--version"], capture_output=True, text=True,
                                           env={"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(),
                                                "DISABLE_AUTOUPDATER": "1"}).stdout.strip()
    cpu0 = cpu_totals()
    fx = Fixture(args.claude)
    try:
        log(f"CLI direct: {args.n} cold (json), {args.n} cold (stream-json), {args.n} warm (settle {args.settle} s)")
        cli_cold_json(fx, -1)  # the first run of the binary reads it from disk; not measured
        cold = [cli_cold_json(fx, i) for i in range(args.n)]
        cold_stream = [cli_stream(fx, i, None) for i in range(args.n)]
        warm = [cli_stream(fx, i, args.settle) for i in range(args.n)]
        keys = ("first_line", "first_delta", "result", "exit")
        res["cli"] = {
            "cold_json": dict(summary(cold), raw_ms=[round(x * 1000, 2) for x in cold]),
            "cold_stream": {k: summary([r[k] for r in cold_stream]) for k in keys},
            "warm": {k: summary([r[k] for r in warm]) for k in keys + ("startup_done", "startup_cpu")},
        }
        res["cli"]["warm"]["rss_mib"] = median([r["rss_mib"] for r in warm])
        res["cli"]["warm"]["rss_tree_mib"] = median([r["rss_tree_mib"] for r in warm])
        for key in ("time_to_request_ms", "ttft_ms", "duration_api_ms", "duration_ms"):
            for label, rows in (("warm", warm), ("cold_stream", cold_stream)):
                values = [r["cli_" + key] for r in rows if r.get("cli_" + key) is not None]
                res["cli"][label]["cli_reported_" + key] = median(values)
        res["stub_round_trip"] = summary([stub_round_trip(fx) for _ in range(args.n)])
        res["cli"]["warm"]["exit_raw_ms"] = [round(r["exit"] * 1000, 2) for r in warm]
        log(f"  CLI cold json {res['cli']['cold_json']['median_ms']:.0f} ms; stream-json cold → exit "
            f"{res['cli']['cold_stream']['exit']['median_ms']:.0f} ms; warm prompt → result "
            f"{res['cli']['warm']['result']['median_ms']:.0f} ms, → exit {res['cli']['warm']['exit']['median_ms']:.0f} ms")

        res["service_warm"] = service_series(fx, args, True)
        res["service_cold"] = service_series(fx, args, False)
        res["overhead"] = {
            "warm_ms": res["service_warm"]["completion"]["median_ms"] - res["cli"]["warm"]["exit"]["median_ms"],
            "cold_ms": res["service_cold"]["completion"]["median_ms"] - res["cli"]["cold_stream"]["exit"]["median_ms"]}
    finally:
        fx.cleanup(args.keep)
    res["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    res["seconds"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1)
    cpu1 = cpu_totals()
    # CPU the rest of the machine used meanwhile (everything reaped by us counts as ours: the
    # service, and through it the CLIs; the direct CLIs; the stub): a busy machine shows here.
    foreign = max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1]))
    res["machine"]["foreign_cpu_share"] = round(foreign / (res["seconds"] * (os.cpu_count() or 1)), 3)

    print()
    print_table(res)
    out = args.out
    if not out:
        results = os.path.join(HERE, "results")
        ignored = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", os.path.join(results, "x.json")]).returncode == 0
        directory = results if ignored else tempfile.gettempdir()
        os.makedirs(directory, exist_ok=True)
        out = os.path.join(directory, f"warm-cli-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nresults: {os.path.relpath(out, ROOT) if out.startswith(ROOT) else out} ({res['seconds']} s)")

if __name__ == "__main__":
    main()
