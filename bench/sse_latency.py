#!/usr/bin/env python3
"""SSE delta-to-socket latency: the time from a stream-json delta line leaving the CLI
(timestamp written into the delta by bench/fake-claude-timestamps just before its write)
to the matching SSE chunk arriving at a client on loopback (read as soon as the socket
has it). Starts the service itself.

Usage: bench/sse_latency.py [BINARY] [--deltas N] [--interval S] [--runs R]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start_service(binary, workspace):
    env = dict(PATH=os.environ["PATH"], API_BEARER_TOKEN="bench-token", GIT_SYNC="off",
               CLAUDE_BIN=os.path.join(HERE, "fake-claude-timestamps"), WORKSPACE_DIR=workspace)
    proc = subprocess.Popen([binary, "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if '"msg":"listening"' in line:
            return proc, json.loads(line)["port"]
    raise SystemExit("service did not start")


def one_run(port, deltas, interval):
    body = json.dumps({"model": "claude-haiku-4-5", "stream": True, "messages": [
        {"role": "user", "content": f"bench\nBENCH:n={deltas}\nBENCH:interval={interval}"}]})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bench-token\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}")
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(request.encode())
    latencies, seen, buffer = [], set(), b""
    while True:
        data = sock.recv(65536)
        now = time.time_ns()
        if not data:
            break
        buffer += data
        for match in re.finditer(rb"T(\d{19});", buffer):
            stamp = int(match.group(1))
            if stamp not in seen:
                seen.add(stamp)
                latencies.append((now - stamp) / 1000.0)
        buffer = buffer[-64:]  # a stamp split across reads is completed by the next one
        if b"data: [DONE]" in data:
            break
    sock.close()
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default=os.path.join(HERE, "..", "build", "release", "claude-agent-service"))
    parser.add_argument("--deltas", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workspace:
        proc, port = start_service(args.binary, workspace)
        try:
            all_latencies = []
            for _ in range(args.runs):
                all_latencies += one_run(port, args.deltas, args.interval)
        finally:
            proc.terminate()
            proc.wait()
    all_latencies.sort()
    q = lambda p: all_latencies[min(len(all_latencies) - 1, int(p * len(all_latencies)))]
    print(f"SSE delta-to-socket latency over {len(all_latencies)} deltas "
          f"({args.runs} runs x {args.deltas}, {args.interval * 1000:.0f} ms apart):")
    print(f"  p50 {q(0.50):.0f} us   p90 {q(0.90):.0f} us   p99 {q(0.99):.0f} us   "
          f"max {all_latencies[-1]:.0f} us   mean {statistics.mean(all_latencies):.0f} us")


if __name__ == "__main__":
    main()
