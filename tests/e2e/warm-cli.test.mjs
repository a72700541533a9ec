// End-to-end: the warm CLI (a Claude Code process the service starts ahead of the next run,
// waiting on stdin) with the real CLI from this directory's node_modules against
// messages-stub.mjs: hits, misses on other arguments, a stale process after a pushed agent
// change (GIT_SYNC=required, the workspace a clone of a local bare remote), a waiting process
// killed from outside, shutdown with one waiting, and WARM_CLI=off.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/warm-cli.test.mjs
//
// Needs `npm ci` in tests/e2e. CAS_E2E_KEEP=1 keeps the temp dir (workspace, remote, HOME,
// the stub's request dumps, logs). Registered with CTest as "e2e: warm CLI with the real CLI".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  apiRequest, cleanEnv, descendantsOf, gitIn, installGuards, killAll, liveChildren, processTable,
  realCliEnv, scrapeMetrics, serviceBinary, sleep, startService, startStub, stopChild, tail,
  timeUntilIdle, within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-warm-token';
const AGENT = 'recruiter-triage';
const AGENT_FILE = join('.claude', 'agents', `${AGENT}.md`);
const DEFAULT_MODEL = 'claude-haiku-4-5';
const OTHER_MODEL = 'claude-sonnet-4-6';

const SUITE_TIMEOUT_MS = 60_000; // each describe; the whole file normally takes ~10 s
const WATCHDOG_MS = 100_000; // last resort if a hung request outlives the suite timeouts (CTest: 120 s)
const STARTUP_TIMEOUT_MS = 15_000;
const WARM_WAIT_MS = 10_000; // for a process started ahead to appear (it is forked at once)
const JOB_POLL_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const SETTLE_MS = 1_000; // a waiting real CLI has done its start-up (~0.4 s) by then

const marker = (what) => `e2e-${what}-${randomBytes(4).toString('hex')}`;

installGuards('warm-cli.test.mjs', WATCHDOG_MS);

// ---------------------------------------------------------------- shared fixture

let tmp;
let home;
let dumpDir;
let stub;
let stubPort;

const baseEnv = () => cleanEnv(home);
const git = (cwd, ...args) => gitIn(home, cwd, ...args);

const agentText = (body) => [
  '---',
  `name: ${AGENT}`,
  'description: Triages a recruiter message and drafts a short reply.',
  '---',
  body,
  '',
].join('\n');

// A bare remote holding one commit with the agent file (body `body`), and a clone of it as
// the service's workspace; returns { remote, workspace }.
function gitWorkspace(name, body) {
  const seed = join(tmp, `${name}-seed`);
  const remote = join(tmp, `${name}-remote.git`);
  const workspace = join(tmp, `${name}-workspace`);
  mkdirSync(join(seed, '.claude', 'agents'), { recursive: true });
  git(tmp, 'init', '-q', '-b', 'main', seed);
  writeFileSync(join(seed, AGENT_FILE), agentText(body));
  git(seed, 'add', '-A');
  git(seed, 'commit', '-q', '-m', 'agent');
  git(tmp, 'clone', '-q', '--bare', seed, remote);
  git(tmp, 'clone', '-q', remote, workspace);
  return { remote, workspace };
}

const services = []; // every service started, for the diagnostics and the final cleanup

function diagnostics() {
  // The service logs every request (GET /metrics, GET /jobs/{id} polls); those would hide the rest.
  const notPoll = (line) => !line.includes('"method":"GET"');
  return [...services, stub].filter(Boolean).map((c) => tail(c, 25, notPoll)).join('\n');
}

before(async () => {
  serviceBinary();
  assert.doesNotThrow(() => accessSync(CLAUDE_BIN, constants.X_OK),
    `${CLAUDE_BIN} is missing: run \`npm ci\` in ${HERE}`);
  tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-warm-'));
  home = join(tmp, 'home');
  dumpDir = join(tmp, 'dump');
  mkdirSync(home);
  mkdirSync(dumpDir);
  ({ stub, port: stubPort } = await startStub(STUB, { ...baseEnv(), STUB_DUMP_DIR: dumpDir }, STARTUP_TIMEOUT_MS));
}, { timeout: 20_000 });

after(async () => {
  for (const s of services) await stopChild(s, STOP_TIMEOUT_MS);
  if (stub) stub.proc.kill('SIGTERM');
  await within(Promise.all(liveChildren().map((c) => c.exited)), 5_000);
  killAll();
  if (tmp) {
    if (process.env.CAS_E2E_KEEP === '1') {
      services.forEach((c, i) => writeFileSync(join(tmp, `service-${i}.log`), c.log.join('\n') + '\n'));
      if (stub) writeFileSync(join(tmp, 'stub.log'), stub.log.join('\n') + '\n');
      process.stderr.write(`kept ${tmp} (workspaces, remotes, home, dump, *.log)\n`);
    } else rmSync(tmp, { recursive: true, force: true });
  }
}, { timeout: 30_000 });

// A service running the real CLI against the stub; `extra` is added to its environment.
async function startWarmService(workspace, extra) {
  const dataDir = join(tmp, `data-${services.length}`);
  const { child, baseUrl } = await startService({
    cwd: tmp,
    startupMs: STARTUP_TIMEOUT_MS,
    env: {
      ...realCliEnv(home, stubPort),
      API_BEARER_TOKEN: TOKEN,
      WORKSPACE_DIR: workspace,
      DATA_DIR: dataDir,
      CLAUDE_BIN,
      OPENAI_AGENT: AGENT,
      OPENAI_MODELS: `${DEFAULT_MODEL},${OTHER_MODEL}`,
      OPENAI_DEFAULT_MODEL: DEFAULT_MODEL,
      KILL_GRACE_MS: '500',
      ...extra,
    },
  });
  services.push(child);
  return { child, baseUrl };
}

// ---------------------------------------------------------------- helpers

const api = (baseUrl, method, path, body) => apiRequest(baseUrl, TOKEN, method, path, body);

const metrics = (baseUrl) => scrapeMetrics(baseUrl, TOKEN);

// The warm-CLI counters, flattened: { hits, miss_none, miss_arguments, ..., discard_died, ... }.
async function warmCounters(baseUrl) {
  const m = await metrics(baseUrl);
  const out = { hits: m.get('cas_warm_cli_hits_total') };
  for (const r of ['none', 'arguments', 'stale']) out[`miss_${r}`] = m.get('cas_warm_cli_misses_total', { reason: r });
  for (const r of ['replaced', 'stale', 'died', 'expired', 'shutdown']) {
    out[`discard_${r}`] = m.get('cas_warm_cli_discards_total', { reason: r });
  }
  return out;
}

// `now` minus `before`, counter by counter, keeping only those that moved.
const moved = (before, now) => Object.fromEntries(
  Object.keys(now).filter((k) => now[k] !== before[k]).map((k) => [k, now[k] - before[k]]));

const showProcs = (procs) => procs.map((p) => `${p.pid} (${p.comm}) ppid=${p.ppid}: ${p.cmdline}`).join('\n') || '(none)';

// The CLI processes below `service` (every run now reads --input-format stream-json).
const cliProcs = (service) => descendantsOf(service.proc.pid).filter((p) => p.cmdline.includes('--input-format stream-json'));

// Waits until the service is idle and exactly one CLI waits below it, a child of the
// service, whose command line passes `match`; returns it. The service says one waits (its
// gauge), and the same single process is there before and after it says so: a completion is
// answered before its CLI exits, so for a moment the one below may be that CLI.
async function waitForWarm(service, baseUrl, match = () => true, ms = WARM_WAIT_MS) {
  const deadline = Date.now() + ms;
  let procs;
  for (;;) {
    procs = cliProcs(service);
    if (procs.length === 1 && procs[0].ppid === service.proc.pid && match(procs[0].cmdline)) {
      const idle = await timeUntilIdle(baseUrl, 0);
      const waiting = (await metrics(baseUrl)).get('cas_warm_cli_waiting');
      const again = cliProcs(service);
      if (idle !== null && waiting === 1 && again.length === 1 && again[0].pid === procs[0].pid) return procs[0];
    }
    if (Date.now() >= deadline) {
      assert.fail(`no single matching warm CLI below the service (pid ${service.proc.pid}) within ${ms} ms; ` +
        `CLI processes:\n${showProcs(procs)}\nall descendants:\n${showProcs(descendantsOf(service.proc.pid))}\n` +
        `${diagnostics()}`);
    }
    await sleep(25);
  }
}

// Polls `check` (returns truthy when satisfied) every 25 ms for up to `ms`; the last value.
async function eventually(check, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value || Date.now() >= deadline) return value;
    await sleep(25);
  }
}

const hasModel = (model) => (cmdline) => cmdline.includes(`--model ${model}`);

function openaiClient(baseUrl) {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000 });
}

// A non-streamed completion that must succeed with the stub's echo of a fresh marker; its time.
async function complete(baseUrl, model, what) {
  const mark = marker(what);
  const started = Date.now();
  const completion = await openaiClient(baseUrl).chat.completions.create({
    model,
    messages: [{ role: 'user', content: `${mark} asks about a C++ role` }],
  });
  const ms = Date.now() - started;
  const shown = JSON.stringify(completion);
  const content = completion.choices?.[0]?.message?.content ?? '';
  assert.ok(content.includes('STUB-REPLY:') && content.includes(mark),
    `completion (${what}, ${model}) should contain "STUB-REPLY:" and ${mark}: ${shown}\n${diagnostics()}`);
  assert.equal(completion.model, model, shown);
  return ms;
}

async function runJob(baseUrl, prompt) {
  const res = await api(baseUrl, 'POST', '/execute', { prompt, agent: AGENT });
  assert.equal(res.status, 202, `POST /execute should answer 202, got ${res.status}: ${res.text}`);
  const id = res.json.job_id;
  const deadline = Date.now() + JOB_POLL_MS;
  let last;
  while (Date.now() < deadline) {
    last = await api(baseUrl, 'GET', `/jobs/${id}`);
    assert.equal(last.status, 200, `GET /jobs/${id} should answer 200, got ${last.status}: ${last.text}`);
    if (last.json.status !== 'running' && last.json.status !== 'queued') return last.json;
    await sleep(100);
  }
  assert.fail(`job ${id} still running after ${JOB_POLL_MS} ms: ${last?.text}\n${diagnostics()}`);
}

const dumps = () => readdirSync(dumpDir).filter((f) => f.endsWith('.json')).sort();

// The system prompt text of a request body the stub saved.
function systemText(file) {
  const body = JSON.parse(readFileSync(join(dumpDir, file), 'utf8'));
  const system = body.system;
  if (typeof system === 'string') return system;
  return (system ?? []).map((b) => b.text ?? '').join('\n');
}

// SIGTERM with the processes below the service noted first: exit 0, and none of them left.
async function stopAndCheckNothingLeft(service, t) {
  const before = descendantsOf(service.proc.pid);
  const started = Date.now();
  const result = await stopChild(service, STOP_TIMEOUT_MS);
  const ms = Date.now() - started;
  assert.ok(result, `service did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${tail(service)}`);
  assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null },
    `service should exit with code 0 after SIGTERM\n${tail(service)}`);
  // The service kills and reaps what it started before it exits: nothing may be left at once
  // (a pid that now runs another command line was reused, not left).
  const table = processTable();
  const alive = before.filter((p) => table.get(p.pid)?.cmdline === p.cmdline);
  assert.deepEqual(alive, [], `processes the service started are left after it exited:\n${showProcs(alive)}\n` +
    `(before the stop:\n${showProcs(before)})`);
  t?.diagnostic(`exited ${ms} ms after SIGTERM; ${before.length} process(es) below it before, none after`);
  return before;
}

// ---------------------------------------------------------------- WARM_CLI=on

describe('warm CLI on (default), real CLI, GIT_SYNC=required', { timeout: SUITE_TIMEOUT_MS }, () => {
  let service;
  let baseUrl;
  let remote;
  let stopped = false;

  before(async () => {
    let workspace;
    ({ remote, workspace } = gitWorkspace('on', 'You are VERSION-ONE.'));
    ({ child: service, baseUrl } = await startWarmService(workspace, { GIT_SYNC: 'required' }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service && !stopped) await stopChild(service, STOP_TIMEOUT_MS);
  });

  test('a completion with the default model uses the CLI started at start-up; the next one the one started after it', async (t) => {
    const before = await warmCounters(baseUrl);
    assert.equal(before.hits, 0, `no hit before the first run: ${JSON.stringify(before)}`);
    const first = await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    assert.ok(first.cmdline.includes(`--agent ${AGENT}`), `the warm CLI runs OPENAI_AGENT: ${first.cmdline}`);

    await sleep(SETTLE_MS); // so the time below is that of a CLI done with its start-up
    const ms1 = await complete(baseUrl, DEFAULT_MODEL, 'hit1');
    let now = await warmCounters(baseUrl);
    assert.deepEqual(moved(before, now), { hits: 1 }, `one hit, nothing else: ${JSON.stringify(now)}\n${diagnostics()}`);
    assert.ok(await eventually(() => !processTable().has(first.pid), 5_000),
      `the waiting CLI ${first.pid} ran the completion and exited`);

    // Straight on, without waiting for anything: the next CLI is started as the run ends.
    const ms2 = await complete(baseUrl, DEFAULT_MODEL, 'hit2');
    now = await warmCounters(baseUrl);
    assert.deepEqual(moved(before, now), { hits: 2 },
      `two hits; in particular no stale miss (the CLI wrote nothing the fingerprint sees): ${JSON.stringify(now)}`);
    const third = await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    assert.notEqual(third.pid, first.pid);
    t.diagnostic(`warm completions took ${ms1} ms (CLI waiting ${SETTLE_MS} ms) and ${ms2} ms (straight after the first)`);
  });

  test('a completion with another model misses ("arguments"); the next with that model hits', async (t) => {
    await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    const before = await warmCounters(baseUrl);
    const cold = await complete(baseUrl, OTHER_MODEL, 'other1');
    // The waiting one is replaced when the run has ended, just after its answer.
    let now = await eventually(async () => {
      const c = await warmCounters(baseUrl);
      return c.discard_replaced > before.discard_replaced ? c : null;
    }, 5_000) ?? await warmCounters(baseUrl);
    assert.deepEqual(moved(before, now), { miss_arguments: 1, discard_replaced: 1 },
      `a miss for other arguments; the waiting one (for ${DEFAULT_MODEL}) ended: ${JSON.stringify(now)}\n${diagnostics()}`);

    await waitForWarm(service, baseUrl, hasModel(OTHER_MODEL));
    const warm = await complete(baseUrl, OTHER_MODEL, 'other2');
    now = await warmCounters(baseUrl);
    assert.deepEqual(moved(before, now), { miss_arguments: 1, discard_replaced: 1, hits: 1 },
      `then a hit: ${JSON.stringify(now)}`);
    t.diagnostic(`cold (other arguments) ${cold} ms, warm ${warm} ms`);
  });

  test('an agent change pushed to the remote makes the waiting CLI stale; the run sees the new agent', async (t) => {
    const ask = async (what, version) => {
      const seen = new Set(dumps());
      const mark = marker(what);
      const job = await runJob(baseUrl, `${mark}: a recruiter writes`);
      assert.equal(job.status, 'completed', `job should complete: ${JSON.stringify(job)}\n${diagnostics()}`);
      assert.ok(job.result?.includes(mark), `job result should echo ${mark}: ${JSON.stringify(job)}`);
      const fresh = dumps().filter((f) => !seen.has(f));
      assert.equal(fresh.length, 1, `the CLI should make one request for the job, saw ${fresh.join(', ')}`);
      const system = systemText(fresh[0]);
      assert.ok(system.includes(`You are ${version}.`),
        `the request's system prompt should hold the agent body "You are ${version}.": ${system.slice(-300)}`);
      return system;
    };

    const before = await warmCounters(baseUrl);
    await ask('v1', 'VERSION-ONE');
    // Now a CLI waits for the job's arguments (no --model), started with VERSION-ONE read.
    const waiting = await waitForWarm(service, baseUrl, (c) => c.includes(`--agent ${AGENT}`) && !c.includes('--model'));
    // The real CLI reads its agent files ~0.3 s after it starts, while it waits for stdin. A
    // change before that would reach even a stale process, and the check of the system prompt
    // below would then prove nothing; so let it read VERSION-ONE first.
    await sleep(SETTLE_MS);

    const editor = join(tmp, 'on-editor');
    git(tmp, 'clone', '-q', remote, editor);
    writeFileSync(join(editor, AGENT_FILE), agentText('You are VERSION-TWO.'));
    git(editor, 'commit', '-q', '-am', 'agent: version two');
    git(editor, 'push', '-q', 'origin', 'HEAD');
    assert.equal(cliProcs(service)[0]?.pid, waiting.pid, 'the push alone does not touch the waiting CLI');

    const system = await ask('v2', 'VERSION-TWO');
    assert.ok(!system.includes('VERSION-ONE'), `the old agent body must not be sent: ${system.slice(-300)}`);
    const now = await warmCounters(baseUrl);
    const delta = moved(before, now);
    assert.ok(delta.discard_stale >= 1 && delta.miss_stale === 1,
      `the waiting CLI should be discarded as stale, and the run miss as stale: ${JSON.stringify(delta)}\n${diagnostics()}`);
    assert.equal(delta.hits ?? 0, 0, `no hit across the change: ${JSON.stringify(delta)}`);
    t.diagnostic(`warm counters moved by ${JSON.stringify(delta)}`);
  });

  test('a waiting CLI killed from outside: the next completion works and the death is counted', async (t) => {
    // Back to the chat defaults, so a warm CLI waits for exactly the next completion.
    await complete(baseUrl, DEFAULT_MODEL, 'back');
    const victim = await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    const before = await warmCounters(baseUrl);
    process.kill(victim.pid, 'SIGKILL');
    // Gone (or a zombie the service has not reaped yet: processTable skips those).
    assert.ok(await eventually(() => !processTable().has(victim.pid), 2_000), `pid ${victim.pid} still alive after SIGKILL`);

    // Straight on: the service may or may not have noticed the death yet.
    const ms = await complete(baseUrl, DEFAULT_MODEL, 'afterkill');
    const now = await eventually(async () => {
      const c = await warmCounters(baseUrl);
      return c.discard_died >= before.discard_died + 1 ? c : null;
    }, 3_000) ?? await warmCounters(baseUrl);
    const delta = moved(before, now);
    assert.equal(delta.discard_died, 1, `the death should be counted once: ${JSON.stringify(delta)}\n${diagnostics()}`);
    // Normally the run starts its own CLI (miss "none"); only if the completion came after the
    // replacement of the dead one (1 s later) would it be a hit, on that replacement.
    assert.ok(delta.miss_none === 1 || delta.hits === 1,
      `the run should start its own CLI or use a replacement: ${JSON.stringify(delta)}`);
    assert.equal((delta.miss_none ?? 0) + (delta.hits ?? 0) + (delta.miss_arguments ?? 0) + (delta.miss_stale ?? 0), 1,
      `one run, one hit or miss: ${JSON.stringify(delta)}`);
    const next = await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    assert.notEqual(next.pid, victim.pid);
    t.diagnostic(`completion after the kill took ${ms} ms; counters moved by ${JSON.stringify(delta)}`);
  });

  test('SIGTERM with a CLI waiting: exit code 0 and no process left, the waiting one included', async (t) => {
    const waiting = await waitForWarm(service, baseUrl, hasModel(DEFAULT_MODEL));
    const before = await stopAndCheckNothingLeft(service, t);
    stopped = true;
    assert.ok(before.some((p) => p.pid === waiting.pid), `the waiting CLI ${waiting.pid} was among those checked`);
  });
});

// ---------------------------------------------------------------- WARM_CLI=off

describe('WARM_CLI=off, real CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  let service;
  let baseUrl;
  let stopped = false;

  before(async () => {
    const { workspace } = gitWorkspace('off', 'You are the recruiter triage agent.');
    ({ child: service, baseUrl } = await startWarmService(workspace, { GIT_SYNC: 'off', WARM_CLI: 'off' }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service && !stopped) await stopChild(service, STOP_TIMEOUT_MS);
  });

  test('no CLI waits after start-up nor after a completion, and nothing counts as warm', async (t) => {
    // With WARM_CLI on, the start-up process is forked before "listening"; give it time anyway.
    await sleep(300);
    assert.deepEqual(descendantsOf(service.proc.pid), [], 'no process below the service after start-up');
    const ms = await complete(baseUrl, DEFAULT_MODEL, 'off');
    assert.ok((await timeUntilIdle(baseUrl, 5_000)) !== null, 'idle after the completion');
    await sleep(300); // a warm process would be forked right after the run
    const left = descendantsOf(service.proc.pid);
    assert.deepEqual(left, [], `no process below the service after the run:\n${showProcs(left)}`);
    const counters = await warmCounters(baseUrl);
    assert.ok(Object.values(counters).every((v) => v === 0),
      `hits 0, and no miss or discard either (nothing is started ahead): ${JSON.stringify(counters)}`);
    t.diagnostic(`cold completion took ${ms} ms`);
  });

  test('SIGTERM: exit code 0', async (t) => {
    await stopAndCheckNothingLeft(service, t);
    stopped = true;
  });
});
