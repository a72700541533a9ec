// Shared helpers for the end-to-end tests: child processes that are never left behind,
// line-wise output capture, starting claude-agent-service on an ephemeral port, a walk of
// /proc for the processes a service started, HTTP with the token, and the real CLI offline
// (its clean environment, git, the Messages API stub).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `promise`'s value, or null after `ms`; the timer is cleared so it never holds the process open.
export async function within(promise, ms) {
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(() => r(null), ms); });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}

// ---------------------------------------------------------------- child processes

const children = new Set(); // { name, proc, log: string[], exited: Promise<{code, signal, error?}> }

export function startChild(name, file, args, options) {
  const proc = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = { name, proc, log: [], exited: null };
  child.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
    proc.on('error', (error) => resolve({ code: null, signal: null, error }));
  });
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

// Calls onLine for each complete line of `stream`; also keeps them in `sink`.
export function eachLine(stream, sink, onLine) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      sink.push(line);
      onLine?.(line);
    }
  });
}

export const tail = (child, n = 40, keep = () => true) => `--- last ${n} lines of ${child.name} output:\n` +
  child.log.filter(keep).slice(-n).join('\n');

// Resolves with what `match(line)` returns for the first line it accepts; rejects if the
// process exits first or nothing matches within `ms`.
export function waitForLine(child, stream, match, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${child.name}: no startup line within ${ms} ms\n${tail(child)}`)),
      ms,
    );
    eachLine(stream, child.log, (line) => {
      const value = match(line);
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    });
    child.exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} ended before it was ready (code=${code} signal=${signal}` +
        `${error ? ` error=${error.message}` : ''})\n${tail(child)}`));
    });
  });
}

export function killAll(signal = 'SIGKILL') {
  for (const { proc } of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
  }
}

export const liveChildren = () => [...children];

// Whatever happens (uncaught error, a hung hook, Ctrl-C), never leave children behind; and
// if a hung request outlives the suite's own timeout, end everything after `watchdogMs`.
export function installGuards(label, watchdogMs) {
  process.on('exit', () => killAll());
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      killAll();
      process.exit(1);
    });
  }
  setTimeout(() => {
    process.stderr.write(`${label}: watchdog fired after ${watchdogMs} ms; killing children\n`);
    killAll();
    process.exit(1);
  }, watchdogMs).unref();
}

// SIGTERM, then SIGKILL if it is still running after `ms`; the exit result, or null.
export async function stopChild(child, ms = 10_000) {
  if (!child) return null;
  child.proc.kill('SIGTERM');
  const result = await within(child.exited, ms);
  if (!result) {
    child.proc.kill('SIGKILL');
    await within(child.exited, 5_000);
  }
  return result;
}

// ---------------------------------------------------------------- the service

// CAS_SERVICE_BINARY as an absolute path (the service is started in a temp dir).
export function serviceBinary() {
  const binary = process.env.CAS_SERVICE_BINARY && resolve(process.env.CAS_SERVICE_BINARY);
  assert.ok(binary, 'CAS_SERVICE_BINARY must be set to the claude-agent-service binary ' +
    '(CTest sets it; by hand: CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test ...)');
  assert.doesNotThrow(() => accessSync(binary, constants.X_OK),
    `CAS_SERVICE_BINARY=${binary} is not an executable file (build it: cmake --build --preset dev)`);
  return binary;
}

// Starts the service with `--port 0` and exactly `env`; resolves once it logs "listening"
// and answers GET /health.
export async function startService({ binary = serviceBinary(), env, cwd, startupMs = 15_000 }) {
  const child = startChild('claude-agent-service', binary, ['--port', '0'], { cwd, env });
  eachLine(child.proc.stdout, child.log);
  const port = await waitForLine(child, child.proc.stderr, (line) => {
    try {
      const entry = JSON.parse(line);
      return entry.msg === 'listening' && Number.isInteger(entry.port) ? entry.port : undefined;
    } catch {
      return undefined;
    }
  }, startupMs);
  const baseUrl = `http://127.0.0.1:${port}`;
  const health = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(health.status, 200, `GET /health should answer 200, got ${health.status}`);
  await health.body?.cancel();
  return { child, port, baseUrl };
}

// GET /health's `busy`.
export async function isBusy(baseUrl) {
  const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5_000) });
  const body = await res.json();
  assert.equal(res.status, 200, `GET /health should answer 200, got ${res.status}: ${JSON.stringify(body)}`);
  return body.busy;
}

// Milliseconds until GET /health says busy:false, polling every 20 ms; null if not within `ms`.
export async function timeUntilIdle(baseUrl, ms, since = Date.now()) {
  const deadline = since + ms;
  for (;;) {
    if (!(await isBusy(baseUrl))) return Date.now() - since;
    if (Date.now() >= deadline) return null;
    await sleep(20);
  }
}

// ---------------------------------------------------------------- /proc

// pid -> { ppid, comm, cmdline } for every process readable now.
export function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue; // a zombie is already dead, only not yet reaped
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(); } catch { /* gone */ }
      table.set(Number(name), { ppid: Number(fields[1]), comm, cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

// Live processes whose parent chain reaches `ancestor` (not `ancestor` itself):
// [{ pid, ppid, comm, cmdline }].
export function descendantsOf(ancestor) {
  const table = processTable();
  const out = [];
  for (const [pid, info] of table) {
    let p = info.ppid;
    for (let hops = 0; p > 1 && hops < 64; hops++) {
      if (p === ancestor) {
        out.push({ pid, ...info });
        break;
      }
      p = table.get(p)?.ppid ?? 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- HTTP

// One request with the bearer token (and a JSON body, if any): { status, json (if the body
// is JSON), text }.
export async function apiRequest(baseUrl, token, method, path, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

// GET /metrics as { text, get(name, labels) }: get is the sample's value, 0 when absent.
export async function scrapeMetrics(baseUrl, token) {
  const res = await apiRequest(baseUrl, token, 'GET', '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics should answer 200, got ${res.status}: ${res.text}`);
  const samples = new Map();
  for (const line of res.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m) samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  const key = (name, labels = {}) => {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    return parts.length ? `${name}{${parts.join(',')}}` : name;
  };
  return {
    text: res.text,
    get: (name, labels) => samples.get(key(name, labels)) ?? 0,
  };
}

// ---------------------------------------------------------------- the real CLI offline

// A clean environment, as in run-cli-against-stub.sh: nothing from the caller's (e.g. a real
// ANTHROPIC_API_KEY or ~/.claude) may leak into the CLI or into git.
export const cleanEnv = (home) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home });

// What a service needs in its environment to run the real CLI against the stub on `stubPort`.
export const realCliEnv = (home, stubPort) => ({
  ...cleanEnv(home),
  ANTHROPIC_BASE_URL: `http://127.0.0.1:${stubPort}`,
  ANTHROPIC_API_KEY: 'stub-key',
  IS_SANDBOX: '1',
  DISABLE_AUTOUPDATER: '1',
  DISABLE_TELEMETRY: '1',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
});

// git with the clean environment and a fixed author.
export function gitIn(home, cwd, ...args) {
  return execFileSync('git', args, {
    cwd,
    env: {
      ...cleanEnv(home),
      GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid',
      GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid',
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

// messages-stub.mjs (`stubFile`) started with `env`; { stub, port } once it listens.
export async function startStub(stubFile, env, startupMs) {
  const stub = startChild('messages-stub', process.execPath, [stubFile, '--port', '0'], { env });
  eachLine(stub.proc.stderr, stub.log);
  const port = await waitForLine(stub, stub.proc.stdout,
    (line) => line.match(/^LISTENING (\d+)$/)?.[1], startupMs);
  return { stub, port };
}
