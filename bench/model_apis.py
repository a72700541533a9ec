#!/usr/bin/python3
"""The three model APIs on one run path (#17): OpenAI chat completions (POST /v1/chat/completions),
OpenAI Responses (POST /v1/responses) and Anthropic Messages (POST /v1/messages, x-api-key), through
the service with the real Claude Code CLI, warm (WARM_CLI=on), offline against
tests/e2e/messages-stub.mjs. See docs/BENCHMARKS.md, "The three model APIs on one run path (#17)".

    bench/model_apis.py [SERVICE] [--n 30] [--runs 3] [--wait-load 1.5]

SERVICE: the service binary (default $CAS_SERVICE_BINARY, else build/ci/claude-agent-service). Needs
node and `npm ci` in tests/e2e (the CLI and the stub). About 10 minutes per run with --n 30. Prints a
table and writes it to bench/results/model-apis-<UTC time>.txt.

What is measured, per run (a fresh stub and service in a temp dir each run, ephemeral ports):
  - every request is one user message, new each time (no history, no session), model
    claude-haiku-4-5, and the same output cap on all three APIs: 1024 (`max_tokens` on chat and
    messages, `max_output_tokens` on responses). The cap goes to the CLI's environment
    (CLAUDE_CODE_MAX_OUTPUT_TOKENS) and a warm CLI is started for one command line and environment:
    with one cap on all three, the CLI waiting after any of them serves the next one, whichever API.
    Responses are stored (`store` defaults to true), as a client gets them by default.
  - `--warmup` (2) requests of each API first, not measured (the CLI started at start-up is for the
    chat defaults, without a cap: the first request is a miss).
  - then N rounds, each holding one request of every series, in an order that rotates from round to
    round, so that a change in the machine's load reaches every series alike: for each API a
    non-streamed request (sent -> whole body read) and a streamed one (sent -> the first text event:
    chat, the first chunk with a non-empty choices[0].delta.content; responses, the first
    `response.output_text.delta`; messages, the first `content_block_delta`; and sent -> the end of
    the stream).
  - before every request: the service idle (GET /health) and exactly one CLI waiting below it (the
    `cas_warm_cli_waiting` gauge, and the process) that is at least `--settle` (3) seconds old: a CLI
    started ahead keeps working for ~2 s after its spawn, and a request sent earlier measures its
    start-up, not the API (docs/BENCHMARKS.md, "Warm CLI (#14)").
  - `cas_warm_cli_hits_total` and `cas_warm_cli_misses_total` read around every request and around the
    whole measured part: every measured request should be a hit.
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
TOKEN = "bench-model-apis-token"
AGENT = "recruiter-triage"
MODEL = "claude-haiku-4-5"
CAP = 1024
TICK = os.sysconf("SC_CLK_TCK")
APIS = ("chat", "responses", "messages")
KINDS = ("whole", "stream")
AGENT_TEXT = f"""---
name: {AGENT}
description: Triages a recruiter message.
---
You are the recruiter triage agent.
"""


def log(msg):
    print(f"[model-apis {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(xs, p):
    """Nearest-rank percentile (p50 is the median of an odd count; of 30, p95 is the 29th)."""
    if not xs:
        return None
    if p == 0.5:
        return statistics.median(xs)
    s = sorted(xs)
    rank = max(1, -(-len(s) * p // 1))  # ceil(n * p)
    return s[int(rank) - 1]


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def cpu_totals():
    """(machine busy CPU seconds, this process's and its reaped children's CPU seconds)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = (sum(v) - v[3] - v[4]) / TICK
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def proc_start_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19]) / TICK


def uptime_s():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def waiting_clis(service_pid):
    """Live CLI processes the service started (every run reads --input-format stream-json)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{service_pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{service_pid}/task/{task}/children") as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"--input-format" in argv and proc_start_s(pid) is not None:
                out.append(pid)
    return sorted(out)


# --------------------------------------------------------------------------- stub and service
class Run:
    """A temp dir, the stub, a git workspace holding the agent, and the service."""

    def __init__(self, binary, claude, keep):
        self.keep = keep
        self.tmp = tempfile.mkdtemp(prefix="cas-model-apis-bench-")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        base = {"PATH": os.environ["PATH"], "HOME": self.home}
        self.procs = []
        self.stub = subprocess.Popen(["node", os.path.join(E2E, "messages-stub.mjs"), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(self.tmp, "stub.log"), "w"),
                                     env=base, text=True)
        self.procs.append(self.stub)
        line = self.stub.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            raise SystemExit(f"the stub did not start: {line}")
        stub_port = int(line[1])

        workspace = os.path.join(self.tmp, "workspace")
        os.makedirs(os.path.join(workspace, ".claude", "agents"))
        git_env = dict(base, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
                       GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
        subprocess.run(["git", "init", "-q", "-b", "main", workspace], check=True, env=git_env)
        with open(os.path.join(workspace, ".claude", "agents", AGENT + ".md"), "w") as f:
            f.write(AGENT_TEXT)
        subprocess.run(["git", "-C", workspace, "add", "-A"], check=True, env=git_env)
        subprocess.run(["git", "-C", workspace, "commit", "-q", "-m", "agent"], check=True, env=git_env)

        env = dict(base, ANTHROPIC_BASE_URL=f"http://127.0.0.1:{stub_port}", ANTHROPIC_API_KEY="stub-key",
                   IS_SANDBOX="1", DISABLE_AUTOUPDATER="1", DISABLE_TELEMETRY="1",
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                   API_BEARER_TOKEN=TOKEN, WORKSPACE_DIR=workspace, DATA_DIR=os.path.join(self.tmp, "data"),
                   CLAUDE_BIN=claude, OPENAI_AGENT=AGENT, OPENAI_MODELS=f"{MODEL},claude-sonnet-4-6",
                   OPENAI_DEFAULT_MODEL=MODEL, GIT_SYNC="off", WARM_CLI="on", LOG_LEVEL="info")
        self.logfile = os.path.join(self.tmp, "service.log")
        with open(self.logfile, "w") as logf:
            self.proc = subprocess.Popen([binary, "--port", "0"], env=env, cwd=self.tmp, stdout=logf, stderr=logf)
        self.procs.append(self.proc)
        self.port = None
        deadline = time.time() + 15
        while self.port is None:
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the service did not start:\n{self.tail()}")
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
        self.last_waiting = None

    # ---- HTTP: one keep-alive connection, TCP_NODELAY, as a client library holds one
    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, method, path, body=None, api=None):
        """Sends a request and returns the response with its head read (the body not)."""
        if self.conn is None:
            self.connect()
        if api == "messages":
            headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
        else:
            headers = {"Authorization": f"Bearer {TOKEN}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, payload, headers)
            return self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.connect()  # a keep-alive connection the server closed: once more on a fresh one
            self.conn.request(method, path, payload, headers)
            return self.conn.getresponse()

    def get(self, path):
        resp = self.send("GET", path)
        return resp.status, resp.read()

    def busy(self):
        return json.loads(self.get("/health")[1])["busy"]

    def counters(self):
        """cas_warm_cli_* from /metrics: hits, misses (all reasons), misses by reason, waiting."""
        out = {"hits": 0, "misses": 0, "waiting": 0, "discards": 0}
        for line in self.get("/metrics")[1].decode().splitlines():
            if not line.startswith("cas_warm_cli_"):
                continue
            name, value = line.rsplit(None, 1)
            value = int(float(value))
            if name == "cas_warm_cli_hits_total":
                out["hits"] += value
            elif name.startswith("cas_warm_cli_misses_total"):
                out["misses"] += value
                if value:
                    out["miss:" + name.split('reason="', 1)[-1].rstrip('"}')] = value
            elif name.startswith("cas_warm_cli_discards_total"):
                out["discards"] += value
            elif name == "cas_warm_cli_waiting":
                out["waiting"] = value
        return out

    def wait_warm(self, settle, timeout=60):
        """Until the service is idle and exactly one CLI waits below it (the gauge says so, the same
        process before and after reading it), at least `settle` s old, and not the one that waited
        before the last request. A completion is answered at the CLI's result line, before that CLI
        exits and before the service starts (or keeps) the next one: the process below an idle
        service may be the one just used, or, after a miss, the one about to be replaced. Every run
        here ends with a new CLI waiting: a hit took the old one, a miss ("arguments") replaces it.
        Returns the waiting CLI's age in s."""
        deadline = time.time() + timeout
        while True:
            if not self.busy():
                clis = waiting_clis(self.proc.pid)
                if (len(clis) == 1 and clis[0] != self.last_waiting and self.counters()["waiting"] == 1
                        and waiting_clis(self.proc.pid) == clis):
                    start = proc_start_s(clis[0])
                    age = uptime_s() - start if start is not None else 0
                    if age >= settle:
                        self.last_waiting = clis[0]
                        return age
                    time.sleep(min(0.05, settle - age + 0.005))
                    continue
            if time.time() > deadline:
                raise SystemExit(f"no idle service with one waiting CLI within {timeout} s\n{self.tail()}")
            time.sleep(0.01)

    def tail(self, n=25):
        try:
            lines = [l for l in open(self.logfile).read().splitlines() if '"method":"GET"' not in l]
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self):
        if self.conn:
            self.conn.close()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- the three APIs
PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}
BUSY = {"chat": 503, "responses": 503, "messages": 529}


def body(api, text, stream):
    if api == "chat":
        return {"model": MODEL, "stream": stream, "max_tokens": CAP,
                "messages": [{"role": "user", "content": text}]}
    if api == "responses":
        return {"model": MODEL, "stream": stream, "max_output_tokens": CAP, "input": text}
    return {"model": MODEL, "stream": stream, "max_tokens": CAP, "messages": [{"role": "user", "content": text}]}


def answer_text(api, data):
    o = json.loads(data)
    if api == "chat":
        return o["choices"][0]["message"]["content"]
    if api == "responses":
        return "".join(part.get("text", "") for item in o.get("output", []) for part in item.get("content", []))
    return "".join(block.get("text", "") for block in o.get("content", []))


def first_text(api, event, data):
    """The text of a streamed event if it is the API's text event, else None."""
    if api == "chat":
        if data == b"[DONE]":
            return None
        content = (json.loads(data).get("choices") or [{}])[0].get("delta", {}).get("content")
        return content or None
    o = json.loads(data)
    if api == "responses" and o.get("type") == "response.output_text.delta":
        return o.get("delta", "")
    if api == "messages" and o.get("type") == "content_block_delta":
        return o.get("delta", {}).get("text", "")
    return None


def one_request(run, api, kind, text):
    """One request, sent again while it is answered busy (counted). {s (whole body, or first text),
    end_s (streamed: the stream's end), retries}."""
    retries = 0
    while True:
        t0 = time.perf_counter()
        resp = run.send("POST", PATHS[api], body(api, text, kind == "stream"), api=api)
        if resp.status == BUSY[api]:
            resp.read()
            retries += 1
            time.sleep(0.002)
            continue
        if resp.status != 200:
            raise SystemExit(f"{api} {kind}: {resp.status} {resp.read()[:500]!r}\n{run.tail()}")
        if kind == "whole":
            data = resp.read()
            dt = time.perf_counter() - t0
            got = answer_text(api, data)
            if "STUB-REPLY" not in got:
                raise SystemExit(f"{api} whole: no stub answer: {data[:500]!r}")
            return {"s": dt, "retries": retries}
        first, got, event = None, "", None
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.rstrip(b"\r\n")
            if line.startswith(b"event:"):
                event = line[6:].strip()
                continue
            if not line.startswith(b"data:"):
                continue
            piece = first_text(api, event, line[5:].strip())
            if piece:
                if first is None:
                    first = time.perf_counter() - t0
                got += piece
        end = time.perf_counter() - t0
        if first is None or "STUB-REPLY" not in got:
            raise SystemExit(f"{api} stream: no text events with the stub answer ({got[:300]!r})\n{run.tail()}")
        return {"s": first, "end_s": end, "retries": retries}


def measured(run, api, kind, text, settle):
    age = run.wait_warm(settle)
    before = run.counters()
    r = one_request(run, api, kind, text)
    after = run.counters()
    r["hit"] = after["hits"] - before["hits"]
    r["miss"] = after["misses"] - before["misses"]
    r["age_s"] = age
    return r


def one_run(index, args):
    log(f"run {index + 1}: starting the stub and the service")
    run = Run(args.service, args.claude, args.keep)
    series = {(api, kind): [] for api in APIS for kind in KINDS}
    order = [(api, kind) for kind in KINDS for api in APIS]
    try:
        counters0 = run.counters()
        for w in range(args.warmup):
            for api, kind in order:
                measured(run, api, kind, f"model-apis bench warm-up {w} {api} {kind}: a recruiter writes", args.settle)
        counters1 = run.counters()
        log(f"run {index + 1}: {args.warmup} warm-up request(s) per series done ({counters1}); "
            f"{args.n} rounds of {len(order)} requests")
        for i in range(args.n):
            shift = i % len(order)
            for api, kind in order[shift:] + order[:shift]:
                text = f"model-apis bench {index}.{i} {api} {kind}: a recruiter offers a C++ role"
                series[(api, kind)].append(measured(run, api, kind, text, args.settle))
            if (i + 1) % 10 == 0:
                log(f"run {index + 1}: round {i + 1}: " + ", ".join(
                    f"{api} {statistics.median(r['s'] for r in series[(api, 'whole')]) * 1000:.0f}" for api in APIS)
                    + " ms (whole, medians so far)")
        counters2 = run.counters()
    finally:
        run.stop()
    return {"series": series, "counters": {"start": counters0, "after_warmup": counters1, "end": counters2}}


# --------------------------------------------------------------------------- report
COLUMNS = (("whole", "s", "whole"), ("stream", "s", "first text"), ("stream", "end_s", "stream end"))


def run_figures(res):
    """{api: {column: (p50_ms, p95_ms)}, hits, requests} of one run."""
    out = {}
    for api in APIS:
        row = {}
        for kind, key, name in COLUMNS:
            ms = [r[key] * 1000 for r in res["series"][(api, kind)]]
            row[name] = (pct(ms, 0.5), pct(ms, 0.95))
        rs = res["series"][(api, "whole")] + res["series"][(api, "stream")]
        row["hits"] = sum(r["hit"] for r in rs)
        row["misses"] = sum(r["miss"] for r in rs)
        row["requests"] = len(rs)
        row["retries"] = sum(r["retries"] for r in rs)
        out[api] = row
    return out


def table(figs, title):
    names = {"chat": "chat completions", "responses": "responses", "messages": "messages"}
    head = ["API (ms)", "whole p50", "p95", "first text p50", "p95", "stream end p50", "p95", "warm hits"]
    rows = [head]
    for api in APIS:
        f = figs[api]
        cells = [names[api]]
        for _, _, name in COLUMNS:
            cells += [f"{f[name][0]:.1f}", f"{f[name][1]:.1f}"]
        cells.append(f"{f['hits']}/{f['requests']}")
        rows.append(cells)
    chat = figs["chat"]
    for api in APIS[1:]:
        cells = [f"  {names[api]} − chat"]
        for _, _, name in COLUMNS:
            cells += [f"{figs[api][name][0] - chat[name][0]:+.1f}", ""]
        cells.append("")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [title]
    for r in rows:
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def median_figures(all_figs):
    out = {}
    for api in APIS:
        row = {}
        for _, _, name in COLUMNS:
            row[name] = (statistics.median(f[api][name][0] for f in all_figs),
                         statistics.median(f[api][name][1] for f in all_figs))
        for key in ("hits", "misses", "requests", "retries"):
            row[key] = sum(f[api][key] for f in all_figs)
        out[api] = row
    return out


def wait_for_load(limit, max_wait, poll):
    """Until the 1-minute load average is below `limit`, polling every `poll` s, at most `max_wait` s.
    Returns (quiet, waited s, load average)."""
    t0 = time.time()
    while True:
        la = loadavg()
        if la[0] < limit:
            return True, time.time() - t0, la
        if time.time() - t0 >= max_wait:
            return False, time.time() - t0, la
        log(f"load average {la[0]:.2f} (1 min), waiting for < {limit} ({(time.time() - t0) / 60:.1f} of "
            f"{max_wait / 60:.0f} min)")
        time.sleep(poll)


def combine(args):
    """The medians of the runs' figures in earlier results files (their `figures of run` lines)."""
    runs, lines = [], [f"bench/model_apis.py {' '.join(sys.argv[1:])}"]
    for path in args.combine:
        with open(path) as f:
            text = f.read().splitlines()
        lines.append(f"{path}: {text[1] if len(text) > 1 else ''}")
        for line in text:
            if line.startswith("figures of run "):
                number, data = line[len("figures of run "):].split(": ", 1)
                data = json.loads(data)
                runs.append(data["figures"])
                lines.append(f"  run {number}: {data['note']}")
    if not runs:
        raise SystemExit("no runs' figures in those files")
    lines.append(table(median_figures(runs), f"\nmedian of the {len(runs)} runs' figures (p50s and p95s; hits summed):"))
    text = "\n".join(lines)
    print(text)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    out = args.out or os.path.join(HERE, "results", f"model-apis-{stamp}.txt")
    with open(out, "w") as f:
        f.write(text + "\n")
    print(f"\nresults: {os.path.relpath(out, ROOT) if out.startswith(ROOT) else out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("service", nargs="?",
                    default=os.environ.get("CAS_SERVICE_BINARY") or os.path.join(ROOT, "build", "ci", "claude-agent-service"),
                    help="the service binary (default $CAS_SERVICE_BINARY, else build/ci/claude-agent-service)")
    ap.add_argument("--claude", default=os.path.join(E2E, "node_modules", ".bin", "claude"),
                    help="the Claude Code CLI (default tests/e2e/node_modules/.bin/claude)")
    ap.add_argument("--n", type=int, default=30, help="measured requests per series and run (default 30)")
    ap.add_argument("--warmup", type=int, default=2, help="requests per series before measuring (default 2)")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs, each with a fresh stub and service; with more than one, the table of the "
                         "medians of the runs' figures comes last (default 1)")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="age of the waiting CLI before each request, s (default 3)")
    ap.add_argument("--wait-load", type=float, default=0, metavar="L",
                    help="first wait until the 1-minute load average is below L (polled every 30 s)")
    ap.add_argument("--wait-max", type=float, default=2400, metavar="S",
                    help="with --wait-load: wait at most S seconds, then run anyway and say so (default 2400)")
    ap.add_argument("--out", help="the results file (default bench/results/model-apis-<UTC time>.txt)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (logs, workspace, data)")
    ap.add_argument("--combine", nargs="+", metavar="FILE",
                    help="no runs: the table of the medians of the runs in earlier results files "
                         "(written to --out, default bench/results/model-apis-<UTC time>.txt, too)")
    args = ap.parse_args()
    if args.combine:
        return combine(args)
    args.service = os.path.abspath(args.service)
    args.claude = os.path.abspath(args.claude)
    for path, hint in ((args.service, "build it, or pass the binary"), (args.claude, "run `npm ci` in tests/e2e")):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} is not executable ({hint})")
    if not shutil.which("node"):
        raise SystemExit("node is needed for tests/e2e/messages-stub.mjs")

    quiet_note = "no wait for a quiet machine (--wait-load not given)"
    if args.wait_load:
        quiet, waited, la = wait_for_load(args.wait_load, args.wait_max, 30)
        quiet_note = (f"waited {waited / 60:.1f} min for a 1-minute load average below {args.wait_load}: "
                      + (f"{la[0]:.2f} at the start" if quiet else
                         f"NOT QUIET, run anyway at {la[0]:.2f} after waiting the {args.wait_max / 60:.0f} min allowed"))
        log(quiet_note)

    # A copy of the binary, taken now, serves every run: a rebuild during the runs changes nothing.
    built = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(os.stat(args.service).st_mtime))
    service_name = os.path.relpath(args.service, ROOT) if args.service.startswith(ROOT) else args.service
    snapshot_dir = tempfile.mkdtemp(prefix="cas-model-apis-bin-")
    args.service = shutil.copy2(args.service, os.path.join(snapshot_dir, "claude-agent-service"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the runs' cleanup runs
    try:
        bench(args, service_name, built, quiet_note)
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)


def bench(args, service_name, built, quiet_note):
    started = datetime.datetime.now(datetime.timezone.utc)
    git = lambda *a: subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True).stdout.strip()
    cli_version = subprocess.run([args.claude, "--version"], capture_output=True, text=True,
                                 env={"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(),
                                      "DISABLE_AUTOUPDATER": "1"}).stdout.strip()
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    header = [
        f"bench/model_apis.py {' '.join(sys.argv[1:])}".rstrip(),
        f"started {started.isoformat(timespec='seconds')}; git HEAD {git('rev-parse', '--short', 'HEAD')}"
        + (" (src/ modified)" if git("status", "--porcelain", "--untracked-files=no", "src") else ""),
        f"service {service_name} (modified {built} UTC, copied at the start); "
        f"CLI {cli_version}; model {MODEL}; output cap {CAP} on all three APIs; WARM_CLI=on, GIT_SYNC=off",
        f"machine: {os.cpu_count()} CPUs ({cpu_model}), kernel {platform.release()}; {quiet_note}",
        f"per run: {args.warmup} warm-up request(s) per series, then {args.n} rounds of one request per series "
        f"(order rotating); each request once the service is idle and its waiting CLI is >= {args.settle} s old",
        "whole: request sent -> whole body; first text: -> the first text event (chat: delta.content, responses: "
        "response.output_text.delta, messages: content_block_delta); stream end: -> the end of the stream",
    ]
    out = args.out or os.path.join(HERE, "results", f"model-apis-{started.strftime('%Y%m%dT%H%M%SZ')}.txt")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    open(out, "w").close()

    def report(text, also_print=True):
        """Printed and added to the results file at once: a run that is stopped keeps what it took."""
        if also_print:
            print(text, flush=True)
        with open(out, "a") as f:
            f.write(text + "\n")

    report("\n".join(header))
    cpu0 = cpu_totals()
    load_start = loadavg()
    all_figs = []
    for index in range(args.runs):
        la0, c0, t0 = loadavg(), cpu_totals(), time.time()
        res = one_run(index, args)
        la1, c1, secs = loadavg(), cpu_totals(), time.time() - t0
        foreign = max(0.0, (c1[0] - c0[0]) - (c1[1] - c0[1])) / (secs * (os.cpu_count() or 1))
        figs = run_figures(res)
        all_figs.append(figs)
        c = res["counters"]
        note = (f"{secs:.0f} s; load average {la0[0]:.2f} -> {la1[0]:.2f}; other processes used {foreign * 100:.0f}% "
                f"of the CPU; warm CLI counters at start {c['start']}, after the warm-up {c['after_warmup']}, "
                f"at the end {c['end']}: measured hits {c['end']['hits'] - c['after_warmup']['hits']}, misses "
                f"{c['end']['misses'] - c['after_warmup']['misses']}; busy retries "
                f"{sum(figs[a]['retries'] for a in APIS)}")
        report(table(figs, f"\nrun {index + 1} of {args.runs}:") + "\n" + note)
        report(f"figures of run {index + 1}: " + json.dumps({"figures": figs, "note": note}), also_print=False)
        raw = [f"run {index + 1} raw ms, in the order taken:"]
        for (api, kind), rs in res["series"].items():
            raw.append(f"  {api} {'stream first text' if kind == 'stream' else 'whole'}: "
                       + " ".join(f"{r['s'] * 1000:.1f}" for r in rs))
            if kind == "stream":
                raw.append(f"  {api} {kind} end: " + " ".join(f"{r['end_s'] * 1000:.1f}" for r in rs))
        report("\n".join(raw), also_print=False)
    if args.runs > 1:
        report(table(median_figures(all_figs), f"\nmedian of the {args.runs} runs' figures (p50s and p95s; hits summed):"))
    seconds = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    cpu1 = cpu_totals()
    foreign = max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / (seconds * (os.cpu_count() or 1))
    report(f"\n{seconds:.0f} s in all; load average (1, 5, 15 min) {load_start} at the start, {loadavg()} at the end; "
           f"other processes used {foreign * 100:.0f}% of the machine's CPU"
           + (" (not quiet: figures inflated)" if foreign > 0.05 else ""))
    print(f"\nresults: {os.path.relpath(out, ROOT) if out.startswith(ROOT) else out}")


if __name__ == "__main__":
    main()
