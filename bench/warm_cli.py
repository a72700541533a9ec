#!/usr/bin/python3
"""Warm CLI benchmark (issue #14): the real Claude Code CLI, offline against tests/e2e/messages-stub.mjs,
run directly (cold, and warm: started ahead, prompt written later) and through the service with
WARM_CLI=on and WARM_CLI=off, side by side in one run. See docs/BENCHMARKS.md, "Warm CLI (#14)".

    bench/warm_cli.py [--n 20] [--service build/release/claude-agent-service] [--claude PATH]
    bench/warm_cli.py --table bench/results/warm-cli-*.json

Needs node and `npm ci` in tests/e2e (the CLI and the stub). About 5 minutes with --n 20.
Prints a table and writes bench/results/warm-cli-<timestamp>.json (bench/results is gitignored).
On a shared machine: `nice -n -10` (root) and `--wait-quiet 600`; the table says how much CPU the
rest of the machine used during the run.

The figures are taken in N rounds, each holding one measurement of every series, so that a change in
the machine's load during the run reaches every series alike:
  - CLI cold, direct: `claude -p --agent recruiter-triage ... --output-format json`, prompt on stdin,
    spawn to exit (the reference of the #14 goals). Then the CLI driven as the service drives it
    (stream-json in and out, the initialize control request first, then the prompt line and EOF):
    cold, the prompt as soon as the initialize answer came, from spawn; and warm, the prompt
    `--settle` seconds (and 1 s) after spawn, from the prompt to the first line, the first text
    delta, the result line and the exit.
  - Through the service (GIT_SYNC=off; three services side by side, each with its own workspace and
    HOME: WARM_CLI=on for the chat completions, WARM_CLI=on for the jobs, since a job's arguments
    differ from a completion's, and WARM_CLI=off for both): the non-streamed chat completion round
    trip, time to the first streamed token, /execute -> final status (GET /jobs/{id} every 5 ms).
    A warm request waits until the CLI started ahead has existed `--settle` seconds (its start-up
    done), a cold one until the service is idle plus `--cold-gap`; the hit counter is read around
    every request. "Back to back" is a second completion sent as soon as the first one answered.
    Every measurement but a back-to-back one also waits until the CLIs waiting below the warm
    services are `--settle` seconds old, so that their start-up does not slow it.
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
# What the service asks every CLI before the prompt (cli_command.cpp: initialize_request_line).
INITIALIZE_LINE = b'{"type":"control_request","request_id":"bench-init","request":{"subtype":"initialize"}}\n'
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


def rss_parts_mib(pid):
    """RssAnon, RssFile and RssShmem of a process in MiB ({} when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        pass
    return out


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
class Sandbox:
    """A workspace (a git repo holding the agent) and a HOME of its own."""

    def __init__(self, root, name, stub_port):
        self.workspace = os.path.join(root, name, "workspace")
        self.home = os.path.join(root, name, "home")
        self.stub_port = stub_port
        os.makedirs(os.path.join(self.workspace, ".claude", "agents"))
        os.makedirs(self.home)
        subprocess.run(["git", "init", "-q", self.workspace], check=True)
        with open(os.path.join(self.workspace, ".claude", "agents", AGENT + ".md"), "w") as f:
            f.write(AGENT_TEXT)

    def env(self):
        return {"PATH": os.environ["PATH"], "HOME": self.home,
                "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.stub_port}",
                "ANTHROPIC_API_KEY": "stub-key", "IS_SANDBOX": "1", "DISABLE_AUTOUPDATER": "1",
                "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


class Fixture:
    """The temp dir and the stub."""

    def __init__(self, claude):
        self.claude = claude
        self.tmp = tempfile.mkdtemp(prefix="cas-warm-bench-")
        self.stub = subprocess.Popen(
            ["node", os.path.join(E2E, "messages-stub.mjs"), "--port", "0"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.tmp, "stub.log"), "w"),
            env={"PATH": os.environ["PATH"], "HOME": self.tmp}, text=True)
        line = self.stub.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            raise SystemExit(f"the stub did not start: {line}")
        self.stub_port = int(line[1])
        self.procs = []

    def sandbox(self, name):
        return Sandbox(self.tmp, name, self.stub_port)

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


def cli_cold_json(fx, sb, i):
    """Spawn to exit of `claude -p ... --output-format json`, the prompt on stdin."""
    prompt = f"warm-cli bench cold {i}: a recruiter offers a C++ role".encode()
    t0 = time.perf_counter()
    p = subprocess.run([fx.claude] + CLI_BASE + ["--output-format", "json", "--model", MODEL],
                       input=prompt, cwd=sb.workspace, env=sb.env(), capture_output=True, timeout=120)
    dt = time.perf_counter() - t0
    out = json.loads(p.stdout)
    if p.returncode != 0 or "STUB-REPLY" not in out.get("result", ""):
        raise SystemExit(f"CLI cold run failed: exit {p.returncode}: {p.stdout[:500]!r} {p.stderr[:500]!r}")
    return dt


def prompt_line(text):
    return (json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n").encode()


def cli_stream(fx, sb, i, settle):
    """The CLI driven as the service drives it: the service's arguments (stream-json in and out),
    the initialize control request written at spawn and its answer read, then the prompt line and
    EOF. settle None: cold, the prompt as soon as the answer came, times from spawn. settle S: warm,
    the prompt S seconds after spawn, times from the prompt. Returns {init_answer (s after spawn),
    first_line, first_delta, result, exit (s), startup_done (s after spawn when the CPU time of the
    waiting process last grew), startup_cpu (s), rss_mib (waiting)}."""
    t_spawn = time.perf_counter()
    p = subprocess.Popen([fx.claude] + CLI_BASE + STREAM_ARGS + ["--model", MODEL], cwd=sb.workspace,
                         env=sb.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = {}
    p.stdin.write(INITIALIZE_LINE)
    p.stdin.flush()
    for line in p.stdout:
        if json.loads(line).get("type") == "control_response":
            out["init_answer"] = time.perf_counter() - t_spawn
            break
    if "init_answer" not in out:
        raise SystemExit(f"the CLI did not answer its initialize request (exit {p.wait()})")
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
    t0 = time.perf_counter() if settle is not None else t_spawn
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
        self.name = name
        self.warm = warm
        sb = fx.sandbox(name)
        self.data = os.path.join(fx.tmp, f"data-{name}")
        self.logfile = os.path.join(fx.tmp, f"service-{name}.log")
        env = sb.env()
        env.update({"API_BEARER_TOKEN": TOKEN, "CLAUDE_BIN": fx.claude, "WORKSPACE_DIR": sb.workspace,
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
        `settle` s ago; (its pid, its age in s). Cold: until idle, then `cold_gap` s; (None, None).
        A completion is answered before its CLI exits: the one CLI below an idle service may be
        that one, still exiting; so the service's gauge must say one waits, with the same single
        process below it before and after."""
        deadline = time.time() + timeout
        while True:
            if not self.busy():
                if not self.warm:
                    time.sleep(cold_gap)
                    return None, None
                clis = waiting_clis(self.proc.pid)
                if (len(clis) == 1 and self.counters().get("waiting") == 1
                        and waiting_clis(self.proc.pid) == clis):
                    st = proc_stat(clis[0])
                    age = uptime_s() - st["start_s"] if st else 0
                    if age >= settle:
                        return clis[0], age
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
    out = {"retries": retries}
    # The CLI's own account of the turn, from its result line in the record's output: the same
    # figures as for the CLI run directly, so the two can be compared.
    for line in reversed(rec.get("output") or []):
        if '"result"' in line:
            try:
                result = json.loads(line)
            except ValueError:
                continue
            if result.get("type") == "result":
                for key in ("time_to_request_ms", "ttft_ms", "duration_ms"):
                    out["cli_" + key] = result.get(key)
                break
    return out


def timed_execute(svc, i):
    t0 = time.perf_counter()
    out = execute(svc, i)
    out["s"] = time.perf_counter() - t0
    return out


# The services with WARM_CLI=on. A CLI started ahead works for ~2 s after its spawn (~0.5 s of
# CPU); measured alongside, anything else on two cores is slowed by it (the CLI cold reference by
# ~15%). So every measurement but a back-to-back request first waits until the CLIs waiting below
# these services are `--settle` seconds old: each figure is taken on an otherwise quiet machine.
WARM_SERVICES = []


def quiesce(min_age):
    for svc in WARM_SERVICES:
        svc.wait_ready(min_age, 0)


def measured(svc, fn, i, args, settled=True):
    """One request: after waiting for a settled warm CLI (WARM_CLI=on) or idle + gap (off) unless
    `settled` is False (back to back); with the warm-CLI hit it made (0 or 1)."""
    age = None
    if settled:
        quiesce(args.settle)
        _, age = svc.wait_ready(args.settle, args.cold_gap)
    before = svc.counters()
    r = fn(svc, i)
    r["warm_age_s"] = age
    r["hit"] = svc.counters()["hits"] - before["hits"]
    return r


def series_summary(rows):
    out = summary([r["s"] for r in rows])
    out["raw_ms"] = [round(r["s"] * 1000, 2) for r in rows]
    out["hits"] = sum(r["hit"] for r in rows)
    out["retries_busy"] = sum(r["retries"] for r in rows)
    ages = [r["warm_age_s"] for r in rows if r["warm_age_s"] is not None]
    if ages:
        out["warm_cli_age_s"] = {"median": round(median(ages), 2), "min": round(min(ages), 2)}
    if "total_s" in rows[0]:
        out["total"] = summary([r["total_s"] for r in rows])
    for key in ("time_to_request_ms", "ttft_ms", "duration_ms"):
        values = [r["cli_" + key] for r in rows if r.get("cli_" + key) is not None]
        if values:
            out["cli_reported_" + key] = median(values)
    return out


def idle_cost(svc, args):
    """RSS of the idle service and of the CLI waiting below it (and its descendants), and the CPU
    that CLI used: in all since its start, and per second while it waits once 5 s old."""
    pid, _ = svc.wait_ready(max(args.settle, 5.0), 0)
    out = {"service_rss_mib": rss_mib(svc.proc.pid)}
    if pid:
        kids = descendants_of(pid)
        cpu0, t0 = proc_stat(pid)["cpu_s"], time.perf_counter()
        time.sleep(5)
        cpu1, t1 = proc_stat(pid)["cpu_s"], time.perf_counter()
        out.update({"cli_rss_mib": rss_mib(pid), "cli_rss_parts_mib": rss_parts_mib(pid),
                    "cli_descendants": len(kids),
                    "cli_tree_rss_mib": (rss_mib(pid) or 0) + sum(rss_mib(k) or 0 for k in kids),
                    "cli_startup_cpu_s": cpu0, "cli_waiting_cpu_ms_per_s": round((cpu1 - cpu0) * 1000 / (t1 - t0), 2),
                    "cli_pid_unchanged": pid in waiting_clis(svc.proc.pid)})
    return out


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
    rows.append(("CLI as the service drives it: → exit", f"{ms(cli['warm']['exit'])} ({ms(cli['warm']['exit'], 'p90_ms')})",
                 f"{ms(cli['cold_stream']['exit'])} ({ms(cli['cold_stream']['exit'], 'p90_ms')})",
                 ratio(cli["warm"]["exit"]), ratio(cli["cold_stream"]["exit"]), "", "", ""))
    if "init_answer" in cli["cold_stream"]:
        rows.append(("  CLI direct, spawn → initialize answer (start-up)", "",
                     ms(cli["cold_stream"]["init_answer"]), "", ratio(cli["cold_stream"]["init_answer"]),
                     "", "", ""))
    if "warm_1s" in cli:
        rows.append(("  CLI direct, prompt 1 s after spawn: → exit", f"{ms(cli['warm_1s']['exit'])} "
                     f"({ms(cli['warm_1s']['exit'], 'p90_ms')})", "", ratio(cli["warm_1s"]["exit"]), "", "", "", ""))
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
        hits = f"{w[key]['hits']}/{w[key]['n']}"
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
    parts = wi.get("cli_rss_parts_mib", {})
    rows.append(("idle RSS: waiting CLI (+ descendants) (MiB)",
                 f"{wi.get('cli_rss_mib', 0):.1f} ({wi.get('cli_tree_rss_mib', 0):.1f}, {wi.get('cli_descendants')} desc.)",
                 "—", "", "", "", "", ""))
    if parts:
        rows.append(("  of which anonymous / file-backed (MiB)",
                     f"{parts.get('RssAnon', 0):.1f} / {parts.get('RssFile', 0):.1f}", "—", "", "", "", "", ""))
    rows.append(("CPU of a waiting CLI: start-up (ms) / waiting (ms/s)",
                 f"{wi.get('cli_startup_cpu_s', 0) * 1000:.0f} / {wi.get('cli_waiting_cpu_ms_per_s', 0):.1f}",
                 "—", "", "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(r)))
    st = cli["warm"]
    ex = res.get("execute_warmup_excluded")
    if ex:
        print(f"\nExcluded: the first job on the warm jobs service ({ex['ms']:.0f} ms, hit {ex['hit']}: the CLI it "
              "started at start-up is for the chat defaults).", end="")
    print(f"\nCLI started ahead, while it waits: its CPU time last grew {st['startup_done']['median_ms']:.0f} ms after spawn "
          f"(median), {st['startup_cpu']['median_ms']:.0f} ms of CPU; waiting CLI RSS {st['rss_mib']:.1f} MiB.")
    print(f"CLI warm, its own account (median): API request sent {st['cli_reported_time_to_request_ms']:.0f} ms, "
          f"first token {st['cli_reported_ttft_ms']:.0f} ms, turn done {st['cli_reported_duration_ms']:.0f} ms after "
          f"its turn began; the stub's own round trip {res['stub_round_trip']['median_ms']:.1f} ms.")
    for tag, side in (("warm", w), ("cold", c)):
        if "cli_reported_ttft_ms" in side["execute"]:
            e = side["execute"]
            print(f"CLI under the service ({tag} jobs), its own account (median): API request sent "
                  f"{e['cli_reported_time_to_request_ms']:.0f} ms, first token {e['cli_reported_ttft_ms']:.0f} ms, "
                  f"turn done {e['cli_reported_duration_ms']:.0f} ms.")
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
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds a CLI started ahead exists before a warm request (default 3; its "
                         "start-up is ~0.4 s of CPU, but it keeps working for ~3 s: a prompt after 1 s "
                         "waits longer, measured on a row of its own)")
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
    rows = {}

    def add(key, value):
        rows.setdefault(key, []).append(value)

    try:
        cli_sb = fx.sandbox("cli")
        chat = Service(fx, args.service, True, "warm-chat")
        jobs = Service(fx, args.service, True, "warm-jobs")
        cold = Service(fx, args.service, False, "cold")
        # Not measured: the first run of the CLI binary (read from disk), and a first job on the
        # jobs service, a miss (the CLI it started at start-up is for the chat completion defaults).
        cli_cold_json(fx, cli_sb, -1)
        warmup = measured(jobs, timed_execute, -1, args)
        res["execute_warmup_excluded"] = {"ms": round(warmup["s"] * 1000, 1), "hit": warmup["hit"]}
        log(f"{args.n} rounds: completion, back to back, /execute, first token, warm and cold; "
            f"CLI cold (json, stream-json), CLI warm (after {args.settle} s and 1 s)")
        WARM_SERVICES[:] = [chat, jobs]

        def cli_cold(fn, *a):
            quiesce(args.settle)
            return fn(*a)

        def cli_warm(settle):
            # Its prompt goes `settle` s after spawn, when the service's CLIs must be quiet.
            quiesce(max(0.0, args.settle - settle))
            return cli_stream(fx, cli_sb, i, settle)

        # Ordered so that the waits for quiet overlap with the direct warm CLI's own wait.
        for i in range(args.n):
            add("completion_warm", measured(chat, completion, i, args))
            add("completion_back_to_back_warm", measured(chat, completion, i, args, settled=False))
            add("cli_warm", cli_warm(args.settle))
            add("completion_cold", measured(cold, completion, i, args))
            add("completion_back_to_back_cold", measured(cold, completion, i, args, settled=False))
            add("first_token_cold", measured(cold, streamed, i, args))
            add("execute_cold", measured(cold, timed_execute, i, args))
            add("cli_cold_json", cli_cold(cli_cold_json, fx, cli_sb, i))
            add("cli_cold_stream", cli_cold(cli_stream, fx, cli_sb, i, None))
            add("first_token_warm", measured(chat, streamed, i, args))
            add("execute_warm", measured(jobs, timed_execute, i, args))
            add("cli_warm_1s", cli_warm(1.0))
            if (i + 1) % 5 == 0:
                log(f"  round {i + 1}: CLI cold {median(rows['cli_cold_json']) * 1000:.0f} ms, completion warm "
                    f"{median([r['s'] for r in rows['completion_warm']]) * 1000:.0f} ms (medians so far)")

        res["stub_round_trip"] = summary([stub_round_trip(fx) for _ in range(args.n)])
        cold_rows, warm_rows = rows["cli_cold_stream"], rows["cli_warm"]
        keys = ("init_answer", "first_line", "first_delta", "result", "exit")
        res["cli"] = {
            "cold_json": dict(summary(rows["cli_cold_json"]),
                              raw_ms=[round(x * 1000, 2) for x in rows["cli_cold_json"]]),
            "cold_stream": {k: summary([r[k] for r in cold_rows]) for k in keys},
            "warm": {k: summary([r[k] for r in warm_rows]) for k in keys + ("startup_done", "startup_cpu")},
        }
        res["cli"]["warm_1s"] = {k: summary([r[k] for r in rows["cli_warm_1s"]]) for k in keys}
        res["cli"]["warm"]["rss_mib"] = median([r["rss_mib"] for r in warm_rows])
        res["cli"]["warm"]["rss_tree_mib"] = median([r["rss_tree_mib"] for r in warm_rows])
        res["cli"]["warm"]["exit_raw_ms"] = [round(r["exit"] * 1000, 2) for r in warm_rows]
        for key in ("time_to_request_ms", "ttft_ms", "duration_api_ms", "duration_ms"):
            for label, rs in (("warm", warm_rows), ("cold_stream", cold_rows)):
                values = [r["cli_" + key] for r in rs if r.get("cli_" + key) is not None]
                res["cli"][label]["cli_reported_" + key] = median(values)
        for tag in ("warm", "cold"):
            res["service_" + tag] = {
                key: series_summary(rows[f"{key}_{tag}"])
                for key in ("completion", "completion_back_to_back", "first_token", "execute")}
        res["service_warm"]["idle"] = idle_cost(chat, args)
        res["service_warm"]["idle_jobs"] = idle_cost(jobs, args)
        res["service_cold"]["idle"] = idle_cost(cold, args)
        for svc in (chat, jobs, cold):
            res[f"counters_{svc.name}"] = svc.counters()
            svc.stop()
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
