#!/usr/bin/python3
"""Side-by-side benchmarks (issue #8): our release build, the reference Python app under uvicorn,
and nginx `return 200` (one worker) as the machine's HTTP ceiling. Run through bench/run.sh,
which builds what this needs; see docs/BENCHMARKS.md.

Writes bench/results/latest.json (and a timestamped copy) and prints a table.
`bench/bench.py --table FILE` prints the table of an earlier results file.
"""
import argparse
import datetime
import json
import os
import platform
import re
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
TOKEN = "bench-token"
PY = "/usr/bin/python3"  # Debian's, which has python3-fastapi / python3-uvicorn
NGINX_BODY = '{"status":"ok","ceiling":1}'  # 27 bytes
MIB = 1024 * 1024


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmRSS and VmHWM of a process in MiB (None when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        return None
    return {"rss_mib": out.get("VmRSS"), "hwm_mib": out.get("VmHWM")}


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


# --------------------------------------------------------------------------- HTTP client
class Conn:
    """A minimal keep-alive HTTP/1.1 client on a raw socket: a few microseconds of Python per
    request (measured against nginx and reported as the client's own floor)."""

    timeout = 60.0  # seconds without an answer: the service is taken to hang (socket.timeout)

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=Conn.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed")
        self.buf += data

    def request(self, method, path, body=None, auth=True, headers=()):
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        if auth:
            lines.append(f"Authorization: Bearer {TOKEN}")
        lines.extend(headers)
        payload = b""
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        return self.response()

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        head_lines = head.decode("latin-1").split("\r\n")
        status = int(head_lines[0].split()[1])
        hdrs = {}
        for line in head_lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._fill()
                parts.append(self.buf[:size])
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
            body = b"".join(parts)
        else:
            while True:
                try:
                    self._fill()
                except ConnectionError:
                    break
            body, self.buf = self.buf, b""
        return status, hdrs, body


# --------------------------------------------------------------------------- services
class Service:
    def __init__(self, name, cmd, env, port, logfile, cwd=None, timed=False):
        self.name, self.port = name, port
        self.timefile = logfile + ".time" if timed else None
        if timed:
            cmd = ["/usr/bin/time", "-v", "-o", self.timefile] + cmd
        self.log = open(logfile, "ab")
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        self.pid = self.proc.pid

    def wait_ready(self, path="/health", timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                c = Conn(self.port)
                status, _, _ = c.request("GET", path, auth=False)
                c.close()
                if status == 200:
                    if self.timefile:  # the server is the child of /usr/bin/time
                        kids = children_of(self.proc.pid)
                        self.pid = kids[0] if kids else self.proc.pid
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise SystemExit(f"{self.name} did not answer {path} within {timeout} s")

    def memory(self):
        return proc_status(self.pid)

    def cpu_pids(self):
        """The processes that serve: nginx's workers, else the server itself."""
        return (children_of(self.pid) or [self.pid]) if self.name == "nginx" else [self.pid]

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)  # the server (not /usr/bin/time)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def max_rss_mib(self):
        """`Maximum resident set size` from /usr/bin/time -v (after stop())."""
        try:
            with open(self.timefile) as f:
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
            return int(m.group(1)) / 1024.0 if m else None
        except (OSError, TypeError):
            return None


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="cas-bench-")
        self.services = []
        self.results = {"figures": {}, "notes": []}
        self.keep_tmp = False  # set when a service hung: its log is worth reading
        self.fake = args.fake
        self.binary = args.binary
        # PATH for the reference: `claude` is the fake. With "git stub" also a `git` that
        # does nothing (the reference cannot turn its `git pull` off).
        self.bin_plain = os.path.join(self.tmp, "bin-claude")
        self.bin_stub = os.path.join(self.tmp, "bin-claude-nogit")
        for d in (self.bin_plain, self.bin_stub):
            os.makedirs(d)
            os.symlink(self.fake, os.path.join(d, "claude"))
        os.symlink(shutil.which("true"), os.path.join(self.bin_stub, "git"))
        self.make_workspaces()

    # ---------------------------------------------------------------- setup
    def git(self, *args, cwd=None):
        subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL,
                       env=dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x",
                                GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@x"))

    def make_workspaces(self):
        """A bare remote and one clone per service, so `git pull --rebase` succeeds."""
        remote = os.path.join(self.tmp, "remote.git")
        seed = os.path.join(self.tmp, "seed")
        self.git("init", "-q", "--bare", "-b", "main", remote)
        self.git("init", "-q", "-b", "main", seed)
        os.makedirs(os.path.join(seed, ".claude", "agents"))
        for agent in ("recruiter-triage", "bench"):
            with open(os.path.join(seed, ".claude", "agents", agent + ".md"), "w") as f:
                f.write(f"---\nname: {agent}\ndescription: bench agent\n---\nYou help.\n")
        self.git("add", ".", cwd=seed)
        self.git("commit", "-q", "-m", "seed", cwd=seed)
        self.git("remote", "add", "origin", remote, cwd=seed)
        self.git("push", "-q", "origin", "main", cwd=seed)
        self.ws = {}
        for name in ("ours", "ref"):
            path = os.path.join(self.tmp, "ws-" + name)
            self.git("clone", "-q", remote, path)
            self.ws[name] = path
        # sanity: a pull succeeds
        self.git("pull", "--rebase", cwd=self.ws["ours"])

    def ours_env(self, git_sync="off", data=None, extra=None):
        data = data or os.path.join(self.tmp, "data-" + git_sync)
        os.makedirs(data, exist_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
               "API_BEARER_TOKEN": TOKEN, "CLAUDE_BIN": self.fake, "WORKSPACE_DIR": self.ws["ours"],
               "DATA_DIR": data, "GIT_SYNC": git_sync, "IS_SANDBOX": "1", "LOG_LEVEL": "info"}
        env.update(extra or {})
        return env

    def ref_env(self, git_stub=True, extra=None):
        path = (self.bin_stub if git_stub else self.bin_plain) + ":" + os.environ["PATH"]
        env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "API_BEARER_TOKEN": TOKEN,
               "WORKSPACE_DIR": self.ws["ref"], "PYTHONDONTWRITEBYTECODE": "1"}
        env.update(extra or {})
        return env

    def ref_cmd(self, port):
        return [PY, "-m", "uvicorn", "--app-dir", HERE, "reference_shim:app", "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1"]

    def start_ours(self, name, git_sync="off", timed=False, extra=None, data=None):
        port = free_port()
        svc = Service(name, [self.binary, "--port", str(port)],
                      self.ours_env(git_sync, data=data, extra=extra),
                      port, os.path.join(self.tmp, name + ".log"), timed=timed)
        self.services.append(svc)
        svc.wait_ready()
        return svc

    def start_ref(self, name, git_stub=True, timed=False, extra=None):
        port = free_port()
        svc = Service(name, self.ref_cmd(port), self.ref_env(git_stub, extra), port,
                      os.path.join(self.tmp, name + ".log"), cwd=HERE, timed=timed)
        self.services.append(svc)
        svc.wait_ready()
        return svc

    def nginx_conf(self, port, prefix):
        os.makedirs(prefix, exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        temp = "\n".join(f"  {k}_temp_path {prefix}/{k}_temp;" for k in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/json;
      return 200 '{NGINX_BODY}';
    }}
  }}
}}
""")
        return conf

    def start_nginx(self):
        port = free_port()
        prefix = os.path.join(self.tmp, "nginx")
        conf = self.nginx_conf(port, prefix)
        svc = Service("nginx", ["nginx", "-p", prefix, "-e", prefix + "/error.log", "-c", conf],
                      dict(os.environ), port, os.path.join(self.tmp, "nginx.log"))
        self.services.append(svc)
        svc.wait_ready("/")
        return svc

    def cleanup(self):
        for svc in self.services:
            try:
                svc.stop(timeout=5)
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        if not self.args.keep and not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"kept {self.tmp} (service logs)")

    def fig(self, key, value):
        self.results["figures"][key] = value
        return value

    # ---------------------------------------------------------------- measurements
    def wrk(self, svc, path, headers=(), label=""):
        a = self.args
        port = svc.port
        base = ["wrk", "-t", str(a.wrk_threads), "-c", str(a.connections)]
        for h in headers:
            base += ["-H", h]
        url = f"http://127.0.0.1:{port}{path}"
        if a.warmup > 0:
            subprocess.run(base + ["-d", f"{a.warmup}s", url], check=True, stdout=subprocess.DEVNULL)
        pids = svc.cpu_pids()
        cpu0 = cpu_seconds(pids)
        out = subprocess.run(base + ["-d", f"{a.duration}s", "-s", os.path.join(HERE, "wrk_json.lua"),
                                     url], check=True, capture_output=True, text=True).stdout
        cpu = cpu_seconds(pids) - cpu0
        m = re.search(r"WRKJSON (\{.*\})", out)
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["bytes_per_response"] = r["bytes"] / max(1, r["requests"])
        r["server_cpu_s"] = cpu
        r["server_cpu_us_per_request"] = cpu * 1e6 / max(1, r["requests"])
        log(f"wrk {label}: {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
            f"server CPU {r['server_cpu_us_per_request']:.1f} us/req, "
            f"non-2xx {r['errors_status']}, socket errors "
            f"{r['errors_connect'] + r['errors_read'] + r['errors_write'] + r['errors_timeout']}")
        return r

    def make_job(self, svc):
        """One finished job to GET under load."""
        c = Conn(svc.port)
        status, _, body = c.request("POST", "/execute", {"prompt": "bench job", "agent": "bench"})
        assert status == 202, (svc.name, status, body)
        job_id = json.loads(body)["job_id"]
        for _ in range(2000):
            status, _, body = c.request("GET", f"/jobs/{job_id}")
            if json.loads(body)["status"] not in ("running", "queued"):
                break
            time.sleep(0.005)
        record = json.loads(body)
        c.close()
        return job_id, record, len(body)

    def chat_round_trips(self, svc, n):
        """n sequential completions on one keep-alive connection. A request unanswered for
        Conn.timeout seconds ends the measurement (a hung run keeps the slot; the reference
        then answers 503 until its 900 s completion timeout): reported as `hung`."""
        body = json.dumps({"model": "claude-haiku-4-5",
                           "messages": [{"role": "user", "content": "bench"}]}).encode()
        c = Conn(svc.port)
        times, busy, busy_total, failed, hung = [], 0, 0, [], None
        attempts = 0
        while len(times) < n and hung is None:
            attempts += 1
            t0 = time.perf_counter_ns()
            try:
                status, _, resp = c.request("POST", "/v1/chat/completions", body)
            except (socket.timeout, ConnectionError) as e:
                hung = f"request {attempts}: no answer within {Conn.timeout:.0f} s ({type(e).__name__})"
                break
            t1 = time.perf_counter_ns()
            if status == 503 and b"busy" in resp:
                busy += 1
                busy_total += 1
                if busy > 2000:
                    hung = "the slot stayed busy (2000 answers 503 busy in a row)"
                time.sleep(0.001)
                continue
            if status != 200 or b"fake reply" not in resp:
                failed.append(f"{status}: {resp[:200].decode('utf-8', 'replace')}")
                if len(failed) > 20:
                    hung = "more than 20 failed completions"
                continue
            busy = 0
            if attempts > 3:  # the first three are the warm-up
                times.append((t1 - t0) / 1e6)
        c.close()
        if hung:
            log(f"{svc.name}: completions stopped: {hung}")
            self.keep_tmp = True
        return {"n": len(times), "median_ms": median(times), "p10_ms": pct(times, 0.1),
                "p90_ms": pct(times, 0.9), "p99_ms": pct(times, 0.99), "min_ms": min(times) if times else None,
                "busy_retries": busy_total, "failed": len(failed), "failures": failed[:5], "hung": hung}

    def execute_to_done(self, svc, n, via_events=False):
        c = Conn(svc.port)
        times, polls, busy, busy_total, missing_final, hung = [], [], 0, 0, 0, None
        statuses = {}
        while len(times) < n and hung is None:
            t0 = time.perf_counter_ns()
            try:
                status, _, resp = c.request("POST", "/execute", {"prompt": "bench", "agent": "bench"})
                if status == 409:
                    busy += 1
                    busy_total += 1
                    if busy > 2000:
                        hung = "/execute stayed busy (2000 answers 409 in a row)"
                    time.sleep(0.001)
                    continue
                assert status == 202, (svc.name, status, resp)
                busy = 0
                job_id = json.loads(resp)["job_id"]
                k = 0
                deadline = time.time() + Conn.timeout
                if via_events:
                    # The stream ends when the job has finished, with `event: job` (the record).
                    status, _, resp = c.request("GET", f"/jobs/{job_id}/events")
                    t1 = time.perf_counter_ns()
                    if b"event: job\ndata: " in resp:
                        final = resp.rsplit(b"event: job\ndata: ", 1)[1]
                        job_status = json.loads(final.split(b"\n", 1)[0])["status"]
                    else:
                        # Seen on this build: the stream can end without its final record (a
                        # service bug, counted here); the time is still that of the end.
                        missing_final += 1
                        status, _, resp = c.request("GET", f"/jobs/{job_id}")
                        job_status = json.loads(resp)["status"]
                else:
                    while True:
                        k += 1
                        status, _, resp = c.request("GET", f"/jobs/{job_id}")
                        job_status = json.loads(resp)["status"]
                        if job_status not in ("running", "queued"):
                            break
                        if time.time() > deadline:
                            hung = f"job {job_id} still {job_status} after {Conn.timeout:.0f} s"
                            break
                    t1 = time.perf_counter_ns()
            except (socket.timeout, ConnectionError) as e:
                hung = f"no answer within {Conn.timeout:.0f} s ({type(e).__name__})"
                break
            if hung:
                break
            statuses[job_status] = statuses.get(job_status, 0) + 1
            times.append((t1 - t0) / 1e6)
            polls.append(k)
        c.close()
        if hung:
            log(f"{svc.name}: /execute measurement stopped: {hung}")
            self.keep_tmp = True
        return {"n": len(times), "median_ms": median(times), "p10_ms": pct(times, 0.1), "p90_ms": pct(times, 0.9),
                "p99_ms": pct(times, 0.99), "min_ms": min(times) if times else None, "statuses": statuses,
                "busy_retries": busy_total, "median_polls": median(polls) if not via_events else None,
                "events_stream_without_final_record": missing_final if via_events else None, "hung": hung}

    def client_floor(self, port, n):
        """The raw client's own round trip against nginx: the floor of the round-trip figures."""
        c = Conn(port)
        times = []
        for _ in range(n + 20):
            t0 = time.perf_counter_ns()
            c.request("GET", "/", auth=False)
            times.append((time.perf_counter_ns() - t0) / 1e6)
        c.close()
        return {"median_ms": median(times[20:]), "p99_ms": pct(times[20:], 0.99)}

    def hyperfine(self, name, command, runs, warmup=20, shell=True):
        """Median etc. of `command`; shell=False runs it without a shell (hyperfine -N; stdin is
        then /dev/null: an empty prompt)."""
        out = os.path.join(self.tmp, f"hyperfine-{name}.json")
        subprocess.run(["hyperfine", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
                        "--export-json", out] + ([] if shell else ["-N"]) + [command], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            r = json.load(f)["results"][0]
        return {"median_ms": r["median"] * 1e3, "mean_ms": r["mean"] * 1e3,
                "stddev_ms": (r["stddev"] or 0) * 1e3, "min_ms": r["min"] * 1e3, "runs": runs}

    def big_output(self, kind, total):
        """One job whose CLI writes `total` bytes to stdout: elapsed from POST /execute until
        /health says the slot is free, and the service's peak RSS (/usr/bin/time -v)."""
        name = f"{kind}-bigout"
        extra = {"BENCH_LINE": str(self.args.line_bytes)}  # the fake's line length
        svc = (self.start_ours(name, "off", timed=True, extra=extra) if kind == "ours"
               else self.start_ref(name, git_stub=True, timed=True, extra=extra))
        c = Conn(svc.port)
        prompt = f"bench\nBENCH:bytes={total}"
        peak_sampled = 0.0
        t0 = time.perf_counter()
        status, _, resp = c.request("POST", "/execute", {"prompt": prompt, "agent": "bench"})
        assert status == 202, (status, resp)
        job_id = json.loads(resp)["job_id"]
        finished, crashed = False, False
        deadline = t0 + self.args.bigout_timeout
        while time.perf_counter() < deadline:
            if not svc.alive():
                crashed = True
                break
            m = svc.memory()
            if m and m["rss_mib"]:
                peak_sampled = max(peak_sampled, m["hwm_mib"] or m["rss_mib"])
            try:
                status, _, resp = c.request("GET", "/health", auth=False)
            except OSError:
                crashed = True
                break
            if not json.loads(resp)["busy"]:
                finished = True
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        out = {"bytes": total, "line_bytes": self.args.line_bytes, "finished": finished, "crashed": crashed,
               "timeout_s": self.args.bigout_timeout}
        if finished:
            out["elapsed_s"] = elapsed
            out["mib_per_s"] = total / MIB / elapsed
            m = svc.memory()
            if m:
                peak_sampled = max(peak_sampled, m["hwm_mib"] or 0)
                out["rss_after_mib"] = m["rss_mib"]
            if kind == "ours":
                status, _, resp = c.request("GET", f"/jobs/{job_id}")
                rec = json.loads(resp)
                out.update({"job_status": rec.get("status"), "output_truncated":
                            rec.get("output_truncated"), "result": rec.get("result"),
                            "record_bytes": len(resp)})
            else:
                out["job_status"] = "done (record not fetched: it holds the whole output)"
        else:
            out["elapsed_s"] = elapsed
        c.close()
        svc.stop(timeout=60)
        out["peak_rss_mib"] = svc.max_rss_mib() or peak_sampled
        out["peak_rss_sampled_mib"] = peak_sampled
        self.services.remove(svc)
        log(f"{total / MIB:.0f} MiB output, {kind}: {out}")
        return out

    # ---------------------------------------------------------------- the run
    def run(self):
        a, F = self.args, self.fig
        res = self.results
        res["config"] = {k: v for k, v in vars(a).items() if k not in ("func",)}
        res["config"]["nice"] = os.nice(0)
        res["machine"] = machine_info()
        res["started_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        t_start = time.time()

        # The fake CLI's own run time.
        args_json = "-p --agent recruiter-triage --dangerously-skip-permissions --max-budget-usd 2 " \
                    "--output-format json --model claude-haiku-4-5"
        args_stream = "-p --agent bench --dangerously-skip-permissions --max-budget-usd 5 " \
                      "--output-format stream-json --verbose --include-partial-messages"
        log("fake CLI run time (hyperfine)")
        # Without a shell (-N): for a run this short, hyperfine's shell-spawn correction is
        # noisier than the figure. hyperfine 1.15 has no --input, so stdin is /dev/null (an
        # empty prompt; the services send 14 bytes, which changes nothing here).
        F("fake_cli_json", self.hyperfine("fake-json", f"{self.fake} {args_json}", a.fake_runs,
                                          shell=False))
        F("fake_cli_stream_json", self.hyperfine("fake-stream", f"{self.fake} {args_stream}", a.fake_runs,
                                                 shell=False))

        log("starting nginx, ours, reference")
        nginx = self.start_nginx()
        ours = self.start_ours("ours", "off")
        time.sleep(1.0)
        F("idle_rss", {"ours": ours.memory()})
        ref = self.start_ref("ref", git_stub=True)
        time.sleep(1.0)
        res["figures"]["idle_rss"]["ref"] = ref.memory()

        # Records to GET.
        ours_job, ours_rec, ours_len = self.make_job(ours)
        ref_job, ref_rec, ref_len = self.make_job(ref)
        res["jobs_for_get"] = {"ours": {"status": ours_rec.get("status"), "bytes": ours_len},
                               "ref": {"status": ref_rec.get("status"), "bytes": ref_len}}
        if ours_rec.get("status") != "completed":
            raise SystemExit(f"our bench job did not complete: {ours_rec}")

        auth = [f"Authorization: Bearer {TOKEN}"]
        bad = ["Authorization: Bearer wrong-token"]
        log(f"wrk: -t{a.wrk_threads} -c{a.connections}, {a.warmup}s warm-up + {a.duration}s each")
        F("health", {"nginx": self.wrk(nginx, "/", label="nginx /"),
                     "ours": self.wrk(ours, "/health", label="ours /health"),
                     "ref": self.wrk(ref, "/health", label="ref /health")})
        F("get_job", {"ours": self.wrk(ours, f"/jobs/{ours_job}", auth, "ours GET /jobs/{id}"),
                      "ref": self.wrk(ref, f"/jobs/{ref_job}", auth, "ref GET /jobs/{id}")})
        F("unauthorized", {"ours": self.wrk(ours, f"/jobs/{ours_job}", bad, "ours 401"),
                           "ref": self.wrk(ref, f"/jobs/{ref_job}", bad, "ref 401")})
        F("rss_after_http_load", {"ours": ours.memory(), "ref": ref.memory()})
        # What the request log (one JSON line per request, as above) costs: ours without it.
        quiet = self.start_ours("ours-log-off", "off", extra={"LOG_LEVEL": "warn"},
                                data=os.path.join(self.tmp, "data-log-off"))
        F("health_log_off", {"ours": self.wrk(quiet, "/health", label="ours /health, LOG_LEVEL=warn")})
        quiet.stop()
        self.services.remove(quiet)

        log(f"chat completion round trips ({a.round_trips} sequential), git sync off")
        F("client_floor", self.client_floor(nginx.port, a.round_trips))
        F("chat_git_off", {"ours": self.chat_round_trips(ours, a.round_trips),
                           "ref": self.chat_round_trips(ref, a.round_trips)})
        log(f"/execute -> done ({a.executions} sequential)")
        F("execute_done", {"ours": self.execute_to_done(ours, a.executions),
                           "ours_events": self.execute_to_done(ours, a.executions, via_events=True),
                           "ref": self.execute_to_done(ref, a.executions)})
        F("rss_after_all_load", {"ours": ours.memory(), "ref": ref.memory()})
        res["ours_exit_code"] = ours.stop()
        ref.stop()
        self.services.remove(ours)
        self.services.remove(ref)

        log("chat completion round trips, git sync on (git pull --rebase from a local bare remote)")
        ours_git = self.start_ours("ours-git", "required")
        ref_git = self.start_ref("ref-git", git_stub=False)
        F("chat_git_on", {"ours": self.chat_round_trips(ours_git, a.round_trips),
                          "ref": self.chat_round_trips(ref_git, a.round_trips)})
        ours_git.stop()
        ref_git.stop()
        self.services.remove(ours_git)
        self.services.remove(ref_git)
        F("git_pull_alone", self.hyperfine("git-pull", f"git -C {self.ws['ours']} pull --rebase -q",
                                           max(10, a.round_trips // 10), warmup=3, shell=False))

        log("start-up to first /health")
        probe = a.probe
        port = free_port()
        env = self.ours_env("off", data=os.path.join(self.tmp, "data-startup"))
        F("startup", {"ours": json.loads(subprocess.run(
            [probe, str(a.startup_runs), str(port), "--", self.binary, "--port", str(port)],
            env=env, check=True, capture_output=True, text=True).stdout)})
        port = free_port()
        res["figures"]["startup"]["ref"] = json.loads(subprocess.run(
            [probe, str(a.startup_runs_ref), str(port), "--", *self.ref_cmd(port)],
            env=self.ref_env(), cwd=HERE, check=True, capture_output=True, text=True).stdout)
        port = free_port()
        prefix = os.path.join(self.tmp, "nginx-startup")
        conf = self.nginx_conf(port, prefix)
        res["figures"]["startup"]["nginx"] = json.loads(subprocess.run(
            [probe, str(a.startup_runs), str(port), "/", "--", "nginx", "-p", prefix, "-e",
             prefix + "/error.log", "-c", conf], check=True, capture_output=True, text=True).stdout)

        log("SSE delta-to-socket latency (bench/sse_latency.py)")
        out = subprocess.run([sys.executable, os.path.join(HERE, "sse_latency.py"), self.binary,
                              "--runs", str(a.sse_runs), "--deltas", "200", "--interval", "0.005"],
                             check=True, capture_output=True, text=True).stdout
        m = re.search(r"over (\d+) deltas.*\n\s+p50 (\d+) us\s+p90 (\d+) us\s+p99 (\d+) us\s+max (\d+) us"
                      r"\s+mean (\d+) us", out)
        F("sse_latency", {"ours": {"deltas": int(m.group(1)), "p50_us": int(m.group(2)),
                                   "p90_us": int(m.group(3)), "p99_us": int(m.group(4)),
                                   "max_us": int(m.group(5)), "mean_us": int(m.group(6))},
                          "raw": out.strip()})

        log(f"job store ({a.store_records} records)")
        store_dir = os.path.join(self.tmp, "store")
        os.makedirs(store_dir)
        store = subprocess.run([a.store_bench, str(a.store_records), store_dir], check=True,
                               capture_output=True, text=True).stdout
        F("job_store", parse_store(store))
        # Start-up again, now with that database (the store is checked at start-up).
        log(f"start-up with the {a.store_records}-record database")
        port = free_port()
        env = self.ours_env("off", data=store_dir)
        res["figures"]["startup"]["ours_with_records"] = json.loads(subprocess.run(
            [probe, str(max(5, a.startup_runs // 2)), str(port), "--", self.binary, "--port", str(port)],
            env=env, check=True, capture_output=True, text=True).stdout)
        res["figures"]["startup"]["ours_with_records"]["records"] = a.store_records
        res["figures"]["startup"]["ours_with_records"]["db_mib"] = os.path.getsize(
            os.path.join(store_dir, "jobs.db")) / MIB
        shutil.rmtree(store_dir, ignore_errors=True)

        total = a.bigout_mib * MIB
        log(f"{a.bigout_mib} MiB output job")
        stream_prompt = os.path.join(self.tmp, "prompt-big.txt")
        with open(stream_prompt, "w") as f:
            f.write(f"bench\nBENCH:bytes={total}")
        F("pipe_ceiling", self.hyperfine(
            "pipe", f"BENCH_LINE={a.line_bytes} {self.fake} {args_stream} < {stream_prompt} | cat > /dev/null",
            3, warmup=1))
        res["figures"]["pipe_ceiling"]["mib_per_s"] = total / MIB / (
            res["figures"]["pipe_ceiling"]["median_ms"] / 1e3)
        F("big_output", {"ours": self.big_output("ours", total),
                         "ref": self.big_output("ref", total) if not a.skip_ref_bigout else None})
        F("output_cap_mib", 8.0)

        res["elapsed_s"] = time.time() - t_start
        res["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        return res


def parse_store(text):
    out = {"raw": text.strip()}
    pats = {
        "insert": r"insert as running\): p50 (\d+) us\s+p99 (\d+) us",
        "update": r"final update.*?: p50 (\d+) us\s+p99 (\d+) us",
        "list_page": r"list, 50 per page.*?: p50 (\d+) us\s+p99 (\d+) us",
        "read": r"read one record: p50 (\d+) us\s+p99 (\d+) us",
    }
    for key, pat in pats.items():
        m = re.search(pat, text)
        if m:
            out[key] = {"p50_us": int(m.group(1)), "p99_us": int(m.group(2))}
    m = re.search(r"status=failed.*?: (\d+) us", text)
    if m:
        out["list_filtered_us"] = int(m.group(1))
    m = re.search(r"job store: (\d+) records", text)
    if m:
        out["records"] = int(m.group(1))
    return out


def cmd_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


def binary_provenance():
    """The commit the measured binary was built from, as bench/run.sh recorded it at build time,
    and any source file changed since (then the build is stale)."""
    binary = os.path.join(ROOT, "build", "release", "claude-agent-service")
    stamp = os.path.join(ROOT, "build", "release", "bench-tools", "built-from")
    out = {"mtime": datetime.datetime.fromtimestamp(os.path.getmtime(binary), datetime.timezone.utc)
           .isoformat(timespec="seconds") if os.path.exists(binary) else None}
    if os.path.exists(stamp) and os.path.exists(binary) and \
            os.path.getmtime(stamp) >= os.path.getmtime(binary):
        lines = open(stamp).read().split("\n")
        out["built_from"] = lines[0]
        out["uncommitted_at_build"] = [l for l in lines[1:] if l.strip()]
    else:
        out["built_from"] = "unknown (not built by bench/run.sh since its last link)"
    newer = subprocess.run(["find", os.path.join(ROOT, "src"), "-newer", binary, "-name", "*.[ch]pp"],
                           capture_output=True, text=True).stdout.split()
    out["sources_newer_than_binary"] = [os.path.relpath(f, ROOT) for f in newer]
    return out


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pyver = subprocess.run([PY, "-c", "import sys, fastapi, pydantic, starlette, uvicorn, h11; "
                            "print(sys.version.split()[0], fastapi.__version__, pydantic.VERSION, "
                            "starlette.__version__, uvicorn.__version__, h11.__version__)"],
                           capture_output=True, text=True).stdout.split()
    loops = subprocess.run([PY, "-c", "import importlib.util as u; print(bool(u.find_spec('uvloop')), "
                            "bool(u.find_spec('httptools')))"], capture_output=True, text=True).stdout.split()
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "src"],
                           capture_output=True, text=True).stdout.strip()
    bg = subprocess.run(["ps", "-eo", "ni,pcpu,comm", "--sort=-pcpu"], capture_output=True,
                        text=True).stdout.splitlines()[1:6]
    with open("/proc/meminfo") as f:
        mem = f.readline().split()[1]
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "mem_gib": round(int(mem) / 1024 / 1024, 1),
        "os": cmd_version(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "nginx": cmd_version(["nginx", "-v"]), "wrk": cmd_version(["wrk", "-v"]),
        "hyperfine": cmd_version(["hyperfine", "--version"]),
        "python": pyver[0] if pyver else None, "fastapi": pyver[1] if len(pyver) > 1 else None,
        "pydantic": pyver[2] if len(pyver) > 2 else None, "starlette": pyver[3] if len(pyver) > 3 else None,
        "uvicorn": pyver[4] if len(pyver) > 4 else None, "h11": pyver[5] if len(pyver) > 5 else None,
        "uvloop": loops[0] if loops else None, "httptools": loops[1] if len(loops) > 1 else None,
        "git_head": git, "src_modified_files": dirty.splitlines(),
        "binary": binary_provenance(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "top_processes": bg,
    }


# --------------------------------------------------------------------------- the table
def fmt(v, unit="", digits=0):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{digits}f}×"


def table_rows(res):
    f = res["figures"]
    g = lambda *keys: _dig(f, keys)  # noqa: E731
    rows = []  # (figure, ours, ref, nginx, ours/ref, ours/nginx, target, met)

    def http_row(name, key, target_ratio=None, p99=False):
        o, r = g(key, "ours", "rps"), g(key, "ref", "rps")
        n = g("health", "nginx", "rps")
        met = None
        if target_ratio is not None and o is not None and n:
            met = o / n >= target_ratio
        rows.append((f"{name} req/s", fmt(o), fmt(r), fmt(n), ratio(o, r, 1), ratio(o, n),
                     f"≥ {target_ratio}× nginx" if target_ratio else "", met))
        for q in ("p50", "p99"):
            o, r, n = g(key, "ours", q + "_us"), g(key, "ref", q + "_us"), g("health", "nginx", q + "_us")
            met = None
            tgt = ""
            if q == "p99" and p99:
                tgt = "≤ 1.5× nginx p99"
                met = o is not None and n is not None and o <= 1.5 * n
            rows.append((f"{name} {q} latency", fmt(o and o / 1000, " ms", 2), fmt(r and r / 1000, " ms", 2),
                         fmt(n and n / 1000, " ms", 2), ratio(o, r), ratio(o, n), tgt, met))

    def cpu_row(name, key):
        o, r = g(key, "ours", "server_cpu_us_per_request"), g(key, "ref", "server_cpu_us_per_request")
        n = g("health", "nginx", "server_cpu_us_per_request")
        rows.append((f"{name} server CPU per request", fmt(o, " µs", 1), fmt(r, " µs", 1),
                     fmt(n, " µs", 1), ratio(o, r), ratio(o, n), "", None))

    http_row("GET /health", "health", 0.8, p99=True)
    cpu_row("GET /health", "health")
    o = g("health_log_off", "ours", "rps")
    if o is not None:
        rows.append(("  GET /health req/s without the request log (LOG_LEVEL=warn)", fmt(o), "—",
                     fmt(g("health", "nginx", "rps")), "", ratio(o, g("health", "nginx", "rps")), "", None))
    http_row("authed GET /jobs/{id}", "get_job", 0.6, p99=True)
    cpu_row("authed GET /jobs/{id}", "get_job")
    o, r = g("unauthorized", "ours", "rps"), g("unauthorized", "ref", "rps")
    rows.append(("401 (wrong token) req/s", fmt(o), fmt(r), "—", ratio(o, r, 1),
                 ratio(o, g("health", "nginx", "rps")), "", None))
    cpu_row("401 (wrong token)", "unauthorized")

    fake, fake_min = g("fake_cli_json", "median_ms"), g("fake_cli_json", "min_ms")
    floor = g("client_floor", "median_ms")
    both = lambda m, lo: None if m is None else f"{m:.2f} ({lo:.2f}) ms"  # noqa: E731
    sub = lambda x, y: None if x is None or y is None else x - y  # noqa: E731
    rows.append(("fake CLI run (json): median (min)", both(fake, fake_min), both(fake, fake_min), "—", "",
                 "", "", None))
    rows.append(("client+loopback floor (vs nginx)", "—", "—", fmt(floor, " ms", 3), "", "", "", None))
    for key, label in (("chat_git_off", "git sync off"), ("chat_git_on", "git sync on")):
        o, r = g(key, "ours", "median_ms"), g(key, "ref", "median_ms")
        omin, rmin = g(key, "ours", "min_ms"), g(key, "ref", "min_ms")
        rows.append((f"chat completion round trip, {label}: median (min)", both(o, omin), both(r, rmin),
                     "—", ratio(o, r), "", "", None))
        oo, ro = sub(o, fake), sub(r, fake)
        met = (oo <= 1.0) if (key == "chat_git_off" and oo is not None) else None
        rows.append((f"  overhead over the fake CLI, {label}: median (min)", both(oo, sub(omin, fake_min)),
                     both(ro, sub(rmin, fake_min)), "—", ratio(oo, ro), "",
                     "≤ 1 ms" if key == "chat_git_off" else "", met))
    hangs = {}
    for who in ("ours", "ref"):
        found = [k for k in ("chat_git_off", "chat_git_on", "execute_done", "ours_events")
                 if g(k, who, "hung") or (who == "ours" and g("execute_done", "ours_events", "hung"))]
        hangs[who] = ", ".join(sorted(set(found))) if found else "none"
    rows.append(("  runs that hung (no answer within the request timeout)", hangs["ours"], hangs["ref"], "—",
                 "", "", "", None))
    rows.append(("  git pull --rebase alone (hyperfine)", fmt(g("git_pull_alone", "median_ms"), " ms", 2),
                 "", "", "", "", "", None))
    fs = g("fake_cli_stream_json", "median_ms")
    o, oe, r = (g("execute_done", "ours", "median_ms"), g("execute_done", "ours_events", "median_ms"),
                g("execute_done", "ref", "median_ms"))
    rows.append(("/execute → done, polling GET: median (min)", both(o, g("execute_done", "ours", "min_ms")),
                 both(r, g("execute_done", "ref", "min_ms")), "—", ratio(o, r), "", "", None))
    rows.append(("/execute → done, via /events: median (min)",
                 both(oe, g("execute_done", "ours_events", "min_ms")), "—", "—", "", "", "", None))
    rows.append(("  fake CLI run (stream-json), median", fmt(fs, " ms", 2), fmt(fake, " ms", 2) + " (json)",
                 "—", "", "", "", None))

    def mem_row(name, key, field, target):
        o, r = g(key, "ours", field), g(key, "ref", field)
        met = o <= target if (o is not None and target) else None
        rows.append((name, fmt(o, " MiB", 1), fmt(r, " MiB", 1), "—", ratio(o, r), "",
                     f"≤ {target} MiB" if target else "", met))

    mem_row("idle RSS", "idle_rss", "rss_mib", 8)
    mem_row("RSS after wrk load", "rss_after_http_load", "rss_mib", 16)
    mem_row("RSS after all load (VmRSS)", "rss_after_all_load", "rss_mib", 16)
    mem_row("peak RSS during load (VmHWM)", "rss_after_all_load", "hwm_mib", None)
    o, r, n = g("startup", "ours", "median_ms"), g("startup", "ref", "median_ms"), g("startup", "nginx", "median_ms")
    rows.append(("start-up to first /health (median)", fmt(o, " ms", 1), fmt(r, " ms", 0), fmt(n, " ms", 1),
                 ratio(o, r, 3), ratio(o, n), "≤ 20 ms", o <= 20 if o is not None else None))
    w = g("startup", "ours_with_records")
    if w:
        rows.append((f"  start-up with {w['records']:,} job records ({w['db_mib']:.0f} MiB jobs.db)",
                     fmt(w["median_ms"], " ms", 1), "—", "—", "", "", "≤ 20 ms", w["median_ms"] <= 20))
    s = g("sse_latency", "ours")
    if s:
        rows.append(("SSE delta-to-socket p50 / p99", f"{s['p50_us']} / {s['p99_us']} µs", "no streaming", "—",
                     "", "", "", None))
    st = g("job_store")
    if st:
        for key, label in (("insert", "job store insert (running)"), ("update", "job store final update"),
                           ("list_page", "job store list page of 50"), ("read", "job store read one")):
            v = st.get(key)
            if v:
                rows.append((f"{label} p50 / p99", f"{v['p50_us']} / {v['p99_us']} µs", "in memory", "—", "",
                             "", "", None))
    cap = g("output_cap_mib") or 8
    bo, br = g("big_output", "ours"), g("big_output", "ref")
    mb = lambda b: (f"{b['mib_per_s']:.0f} MiB/s" if b and b.get("finished") else  # noqa: E731
                    (("crashed" if b.get("crashed") else f"unfinished after {b['timeout_s']} s") if b else "—"))
    pipe = g("pipe_ceiling", "mib_per_s")
    size = f"{(bo or {}).get('bytes', 0) / MIB:.0f} MiB"
    rows.append((f"{size} output job throughput", mb(bo), mb(br), fmt(pipe, " MiB/s") + " (pipe)",
                 ratio(bo and bo.get("mib_per_s"), br and br.get("mib_per_s"), 1),
                 ratio(bo and bo.get("mib_per_s"), pipe), "≥ 500 MiB/s",
                 (bo["mib_per_s"] >= 500) if bo and bo.get("finished") else False))
    rows.append((f"{size} output job peak RSS", fmt(bo and bo.get("peak_rss_mib"), " MiB", 1),
                 fmt(br and br.get("peak_rss_mib"), " MiB", 1), "—",
                 ratio(bo and bo.get("peak_rss_mib"), br and br.get("peak_rss_mib"), 3), "",
                 f"≤ cap + 16 = {cap + 16:.0f} MiB",
                 (bo["peak_rss_mib"] <= cap + 16) if bo and bo.get("peak_rss_mib") else None))
    return rows


def _dig(d, keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def print_table(res, out=sys.stdout):
    rows = table_rows(res)
    head = ("figure", "ours", "reference", "nginx", "ours/ref", "ours/nginx", "target", "met")
    cells = [head] + [r[:7] + ({True: "yes", False: "NO", None: ""}[r[7]],) for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    for i, c in enumerate(cells):
        print("  ".join(str(x).ljust(w) for x, w in zip(c, widths)).rstrip(), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)


def markdown_table(res):
    rows = table_rows(res)
    lines = ["| figure | ours | reference | nginx | ours/ref | ours/nginx | target | met |",
             "|---|--:|--:|--:|--:|--:|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r[7]]
        lines.append("| " + " | ".join(str(x) for x in r[:7]) + f" | {met} |")
    return "\n".join(lines)


def merge_median(results):
    """One results dict whose every number is the median of that number over several runs
    (strings and lists from the first run)."""
    first = results[0]
    if isinstance(first, dict):
        return {k: merge_median([r.get(k) for r in results if isinstance(r, dict) and k in r])
                for k in first}
    if isinstance(first, bool) or not isinstance(first, (int, float)):
        return first
    nums = [r for r in results if isinstance(r, (int, float)) and not isinstance(r, bool)]
    return statistics.median(nums) if nums else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", metavar="FILE", nargs="+",
                   help="print the table of a results file and exit; with several files, of the "
                        "median of each figure over them")
    p.add_argument("--markdown", action="store_true", help="with --table: as a Markdown table")
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "claude-agent-service"))
    p.add_argument("--store-bench", default=os.path.join(ROOT, "build", "release", "bench",
                                                         "cas_bench_job_store"))
    p.add_argument("--fake", help="the compiled bench/fake_claude.c")
    p.add_argument("--probe", help="the compiled bench/startup_probe.c")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of wrk warm-up before each run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--round-trips", type=int, default=200)
    p.add_argument("--executions", type=int, default=100)
    p.add_argument("--fake-runs", type=int, default=300)
    p.add_argument("--startup-runs", type=int, default=21)
    p.add_argument("--startup-runs-ref", type=int, default=5)
    p.add_argument("--sse-runs", type=int, default=3)
    p.add_argument("--store-records", type=int, default=10000)
    p.add_argument("--bigout-mib", type=int, default=1024)
    p.add_argument("--bigout-timeout", type=int, default=180)
    p.add_argument("--line-bytes", type=int, default=4096,
                   help="line length of the big output, newline included (default 4096)")
    p.add_argument("--skip-ref-bigout", action="store_true")
    p.add_argument("--quick", action="store_true",
                   help="about 2 minutes: 3 s wrk runs, 50 round trips, 256 MiB output, fewer start-ups")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    p.add_argument("--request-timeout", type=float, default=60,
                   help="seconds without an answer before a service counts as hung (default 60)")
    a = p.parse_args()
    if a.table:
        runs = []
        for path in a.table:
            with open(path) as f:
                runs.append(json.load(f))
        res = merge_median(runs) if len(runs) > 1 else runs[0]
        if a.markdown:
            print(markdown_table(res))
        else:
            print_table(res)
        return
    if a.quick:
        a.duration, a.warmup, a.round_trips, a.executions = 3, 1, 50, 30
        a.fake_runs, a.startup_runs, a.startup_runs_ref, a.sse_runs = 100, 7, 3, 1
        a.store_records, a.bigout_mib, a.bigout_timeout = 2000, 256, 60
    for path, what in ((a.binary, "--binary"), (a.fake, "--fake"), (a.probe, "--probe"),
                       (a.store_bench, "--store-bench")):
        if not path or not os.access(path, os.X_OK):
            raise SystemExit(f"{what}: not an executable: {path} (run bench/run.sh)")
    a.binary, a.fake, a.probe = map(os.path.abspath, (a.binary, a.fake, a.probe))
    Conn.timeout = a.request_timeout
    bench = Bench(a)
    try:
        res = bench.run()
    finally:
        bench.cleanup()
    os.makedirs(a.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("latest.json", f"run-{stamp}.json"):
        with open(os.path.join(a.out, name), "w") as f:
            json.dump(res, f, indent=2)
    print()
    print_table(res)
    print(f"\nresults: {os.path.join(a.out, 'latest.json')} (took {res['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
