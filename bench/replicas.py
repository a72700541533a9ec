#!/usr/bin/env python3
"""Replicas on one PostgreSQL job store (README "Replicas"), on loopback with the fake CLI.

  throughput  30 jobs (the fake CLI sleeping 1 s) submitted to one replica, until all have
              finished: wall time with 3 replicas against 1 (goal: >= 2.7x, 90% of linear).
  claim       queued -> running on an idle replica: one replica busy with a long job, a job
              submitted to it (so it queues) is claimed by an idle one (NOTIFY); started_at
              minus created_at of the record (one host, one clock), p50/p99.
  cancel      DELETE /jobs/{id} on replica 2 of a job running on replica 1: request to the
              final record, and to the CLI's process gone, p50/p99.
  events      a job on replica 1 printing a line every 50 ms, read live on replica 1 and on
              replica 2 at once: each line's arrival on 2 minus on 1, p50/p99.

Starts its own PostgreSQL (tests/fixtures/postgres-server.sh) and replicas.
Usage: bench/replicas.py [BINARY] [--jobs N] [--rounds R]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAKE = os.path.join(ROOT, "tests", "fixtures", "fake-claude")
SERVER = os.path.join(ROOT, "tests", "fixtures", "postgres-server.sh")
TOKEN = "bench-token"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def call(port, method, path, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


class Replica:
    def __init__(self, binary, database_url, name, extra):
        self.dir = tempfile.mkdtemp(prefix=f"cas-bench-{name}-")
        self.record = os.path.join(self.dir, "record")
        os.makedirs(self.record)
        env = dict(PATH=os.environ["PATH"], HOME=self.dir, API_BEARER_TOKEN=TOKEN, GIT_SYNC="off",
                   WARM_CLI="off", CLAUDE_BIN=FAKE, WORKSPACE_DIR=self.dir,
                   DATA_DIR=os.path.join(self.dir, "data"), DATABASE_URL=database_url,
                   REPLICA_ID=name, QUEUE_DEPTH="1000", LOG_LEVEL="warn",
                   FAKE_CLAUDE_RECORD_DIR=self.record, **extra)
        self.proc = subprocess.Popen([binary, "--port", "0", "--log-level", "info"], env=env,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if '"msg":"listening"' in line:
                self.port = json.loads(line)["port"]
                break
        else:
            raise SystemExit(f"replica {name} did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        subprocess.run(["rm", "-rf", self.dir])


def wait_all(port, ids, limit=120):
    deadline = time.monotonic() + limit
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs unfinished: {len(pending)}")
        for job in list(pending):
            if call(port, "GET", f"/jobs/{job}")["status"] not in ("queued", "running"):
                pending.discard(job)
        time.sleep(0.02)


def wait_status(port, job, status, limit=30):
    deadline = time.monotonic() + limit
    while call(port, "GET", f"/jobs/{job}")["status"] != status:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job} never {status}")
        time.sleep(0.005)


def throughput(binary, url, replicas, jobs):
    nodes = [Replica(binary, url, f"r{i}", {}) for i in range(1, replicas + 1)]
    try:
        time.sleep(0.5)  # heartbeats
        start = time.monotonic()
        ids = [call(nodes[0].port, "POST", "/execute",
                    {"prompt": f"job {i}\nFAKE:sleep=1", "agent": "a"})["job_id"] for i in range(jobs)]
        wait_all(nodes[0].port, ids)
        return time.monotonic() - start
    finally:
        for n in nodes:
            n.stop()


def iso(text):
    return datetime.fromisoformat(text).timestamp()


def claim_latency(nodes, rounds):
    busy = call(nodes[0].port, "POST", "/execute", {"prompt": "x\nFAKE:sleep=600", "agent": "a"})["job_id"]
    wait_status(nodes[0].port, busy, "running")
    waits = []
    for i in range(rounds):
        job = call(nodes[0].port, "POST", "/execute", {"prompt": f"q{i}", "agent": "a"})["job_id"]
        wait_all(nodes[0].port, [job])
        record = call(nodes[0].port, "GET", f"/jobs/{job}")
        waits.append((iso(record["started_at"]) - iso(record["created_at"])) * 1000)
    call(nodes[1].port, "DELETE", f"/jobs/{busy}")
    return waits


def cancel_latency(nodes, rounds):
    answers, gone = [], []
    for i in range(rounds):
        job = call(nodes[0].port, "POST", "/execute", {"prompt": f"c{i}\nFAKE:sleep=600", "agent": "a"})["job_id"]
        wait_status(nodes[0].port, job, "running")
        pid_file = os.path.join(nodes[0].record, "pid")
        deadline = time.monotonic() + 10
        while True:  # the fake wrote its pid (it is this run's CLI once the prompt is in)
            try:
                pid = int(open(pid_file).read())
                if os.path.exists(os.path.join(nodes[0].record, "prompt")):
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the fake CLI did not start")
            time.sleep(0.01)
        start = time.monotonic()
        record = call(nodes[1].port, "DELETE", f"/jobs/{job}")
        answers.append((time.monotonic() - start) * 1000)
        assert record["status"] == "cancelled", record
        while os.path.exists(f"/proc/{pid}"):
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.001)
        gone.append((time.monotonic() - start) * 1000)
        for name in ("pid", "prompt"):
            try:
                os.remove(os.path.join(nodes[0].record, name))
            except OSError:
                pass
    return answers, gone


def read_events(port, job, arrivals, ready):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /jobs/{job}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    ready.set()
    buffer = b""
    while b"event: job\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        now = time.monotonic()
        before = buffer.count(b"text_delta")
        buffer += chunk
        arrivals.extend([now] * (buffer.count(b"text_delta") - before))
    sock.close()


def event_latency(nodes, rounds):
    diffs = []
    for i in range(rounds):
        job = call(nodes[0].port, "POST", "/execute",
                   {"prompt": f"e{i}\nFAKE:stall-after-init=0.5\nFAKE:stream-pause=0.05\nFAKE:text={'x' * 160}",
                    "agent": "a"})["job_id"]
        local, remote = [], []
        ready = [threading.Event(), threading.Event()]
        threads = [threading.Thread(target=read_events, args=(nodes[0].port, job, local, ready[0])),
                   threading.Thread(target=read_events, args=(nodes[1].port, job, remote, ready[1]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        diffs += [(r - l) * 1000 for l, r in zip(local, remote)]
    return diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "build", "release", "claude-agent-service"))
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="cas-bench-pg-")
    os.chmod(base, 0o755)
    socket_dir = os.path.join(base, "pg")
    subprocess.run([SERVER, "start", socket_dir], check=True)
    try:
        def database(name):
            subprocess.run(["psql", f"host={socket_dir} user=postgres", "-qc", f"CREATE DATABASE {name}"],
                           check=True)
            return f"host={socket_dir} user=postgres dbname={name}"

        one = throughput(args.binary, database("one"), 1, args.jobs)
        three = throughput(args.binary, database("three"), 3, args.jobs)
        print(f"throughput: {args.jobs} jobs of 1 s: 1 replica {one:.2f} s, 3 replicas {three:.2f} s, "
              f"speed-up {one / three:.2f}x ({one / three / 3 * 100:.0f}% of linear)")

        latency_db = database("latency")
        nodes = [Replica(args.binary, latency_db, f"r{i}", {}) for i in (1, 2, 3)]
        try:
            time.sleep(0.5)
            waits = claim_latency(nodes, args.rounds)
            print(f"claim (queued -> running on an idle replica), {len(waits)} jobs: "
                  f"p50 {pct(waits, 0.5):.1f} ms, p99 {pct(waits, 0.99):.1f} ms")
            answers, gone = cancel_latency(nodes, max(10, args.rounds // 5))
            print(f"cancel across replicas, {len(answers)} runs: answer p50 {pct(answers, 0.5):.0f} ms "
                  f"p99 {pct(answers, 0.99):.0f} ms; process gone p50 {pct(gone, 0.5):.0f} ms "
                  f"p99 {pct(gone, 0.99):.0f} ms")
            diffs = event_latency(nodes, max(5, args.rounds // 10))
            print(f"events on another replica, {len(diffs)} lines: later than on the owner by "
                  f"p50 {pct(diffs, 0.5):.1f} ms, p99 {pct(diffs, 0.99):.1f} ms")
        finally:
            for n in nodes:
                n.stop()
    finally:
        subprocess.run([SERVER, "stop", socket_dir])
        subprocess.run(["rm", "-rf", base])


if __name__ == "__main__":
    main()
