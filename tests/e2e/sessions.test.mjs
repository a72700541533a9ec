// End-to-end: conversations continued in the CLI's own sessions, with the real CLI from this
// directory's node_modules against messages-stub.mjs (STUB_COUNT_TURNS=1, so every answer
// ends with "[user-turns=N]", N the user turns the CLI sent: a resumed session shows 2, 3, ...).
// Jobs resumed by job id, forked, resumed by an unknown job or session; a session file deleted
// from the CLI's HOME and put back from the store; chat completions through the official
// OpenAI client continued by their history and by X-Session-Id; CHAT_WAIT_SECONDS.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/sessions.test.mjs
//
// Needs `npm ci` in tests/e2e. CAS_E2E_KEEP=1 keeps the temp dir (workspaces, HOME with the
// CLI's session files, the stub's request dumps, logs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  apiRequest, cleanEnv, descendantsOf, gitIn, installGuards, killAll, liveChildren, realCliEnv,
  scrapeMetrics, serviceBinary, sleep, startService, startStub, stopChild, tail, timeUntilIdle,
  within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-sessions-token';
const AGENT = 'recruiter-triage';
const AGENT_FILE = join('.claude', 'agents', `${AGENT}.md`);
const MODEL = 'claude-haiku-4-5';

const SUITE_TIMEOUT_MS = 60_000; // each describe; the whole file normally takes ~20 s
const WATCHDOG_MS = 150_000; // last resort if a hung request outlives the suite timeouts
const STARTUP_TIMEOUT_MS = 15_000;
const JOB_POLL_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const marker = (what) => `e2e-${what}-${randomBytes(4).toString('hex')}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

installGuards('sessions.test.mjs', WATCHDOG_MS);

// ---------------------------------------------------------------- shared fixture

let tmp;
let home;
let dumpDir;
let stub;
let stubPort;

const baseEnv = () => cleanEnv(home);
const git = (cwd, ...args) => gitIn(home, cwd, ...args);

const agentText = [
  '---',
  `name: ${AGENT}`,
  'description: Triages a recruiter message and drafts a short reply.',
  '---',
  'You are the recruiter triage agent.',
  '',
].join('\n');

// A git repository with one commit holding the agent file: the service's workspace (GIT_SYNC=off).
function gitWorkspace(name) {
  const workspace = join(tmp, `${name}-workspace`);
  mkdirSync(join(workspace, '.claude', 'agents'), { recursive: true });
  git(tmp, 'init', '-q', '-b', 'main', workspace);
  writeFileSync(join(workspace, AGENT_FILE), agentText);
  git(workspace, 'add', '-A');
  git(workspace, 'commit', '-q', '-m', 'agent');
  return workspace;
}

// Where the CLI started in `workspace` keeps session `sessionId` (as the service computes it).
const sessionFile = (workspace, sessionId) =>
  join(home, '.claude', 'projects', workspace.replace(/[^a-zA-Z0-9]/g, '-'), `${sessionId}.jsonl`);

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
  tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-sessions-'));
  home = join(tmp, 'home');
  dumpDir = join(tmp, 'dump');
  mkdirSync(home);
  mkdirSync(dumpDir);
  ({ stub, port: stubPort } = await startStub(STUB, { ...baseEnv(), STUB_DUMP_DIR: dumpDir, STUB_COUNT_TURNS: '1' }, STARTUP_TIMEOUT_MS));
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
      process.stderr.write(`kept ${tmp} (workspaces, home, dump, *.log)\n`);
    } else rmSync(tmp, { recursive: true, force: true });
  }
}, { timeout: 30_000 });

// A service running the real CLI against the stub, WARM_CLI=off and GIT_SYNC=off; `extra`
// is added to its environment.
async function startSessionService(workspace, extra = {}) {
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
      OPENAI_MODELS: MODEL,
      OPENAI_DEFAULT_MODEL: MODEL,
      KILL_GRACE_MS: '500',
      GIT_SYNC: 'off',
      WARM_CLI: 'off',
      ...extra,
    },
  });
  services.push(child);
  return { child, baseUrl };
}

// ---------------------------------------------------------------- helpers

const api = (baseUrl, method, path, body) => apiRequest(baseUrl, TOKEN, method, path, body);

const metrics = (baseUrl) => scrapeMetrics(baseUrl, TOKEN);

// The session counters, flattened: { chat_continued, ..., copy_stored, ..., restore_restored, ... }.
async function sessionCounters(baseUrl) {
  const m = await metrics(baseUrl);
  const out = {};
  for (const h of ['continued', 'explicit', 'fresh']) out[`chat_${h}`] = m.get('cas_chat_sessions_total', { how: h });
  for (const r of ['stored', 'too_large', 'no_file', 'store_failed']) {
    out[`copy_${r}`] = m.get('cas_session_copies_total', { result: r });
  }
  for (const r of ['restored', 'no_copy', 'failed']) {
    out[`restore_${r}`] = m.get('cas_session_restores_total', { result: r });
  }
  return out;
}

// `now` minus `before`, counter by counter, keeping only those that moved.
const moved = (before, now) => Object.fromEntries(
  Object.keys(now).filter((k) => now[k] !== before[k]).map((k) => [k, now[k] - before[k]]));

// The N of "[user-turns=N]" at the end of a stub answer; null if it is not there.
const turnsOf = (text) => {
  const m = /\[user-turns=(\d+)\]\s*$/.exec(text ?? '');
  return m ? Number(m[1]) : null;
};

// Submits a job (202 expected) and polls it until it is no longer queued or running.
async function runJob(baseUrl, body) {
  const res = await api(baseUrl, 'POST', '/execute', { agent: AGENT, ...body });
  assert.equal(res.status, 202,
    `POST /execute ${JSON.stringify(body)} should answer 202, got ${res.status}: ${res.text}\n${diagnostics()}`);
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

// A job that must complete with the stub's echo of its marker after `turns` user turns.
async function turn(baseUrl, what, turns, extra = {}) {
  if ('resume' in extra) assert.ok(extra.resume, `job (${what}): nothing to resume (a test bug): ${JSON.stringify(extra)}`);
  const mark = marker(what);
  const job = await runJob(baseUrl, { prompt: `${mark}: a recruiter writes about a C++ role`, ...extra });
  const shown = JSON.stringify(job);
  assert.equal(job.status, 'completed', `job (${what}) should complete: ${shown}\n${diagnostics()}`);
  assert.ok(job.result?.includes(mark), `job (${what}) result should echo ${mark}: ${shown}\n${diagnostics()}`);
  assert.equal(turnsOf(job.result), turns,
    `job (${what}) should be answered after ${turns} user turn(s) ("[user-turns=${turns}]"): ${shown}\n${diagnostics()}`);
  assert.match(job.session_id ?? '', UUID, `job (${what}) should have a CLI session id: ${shown}`);
  return job;
}

function openaiClient(baseUrl) {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000 });
}

// A non-streamed completion of `messages` (options: request options, e.g. headers) that must
// answer after `turns` user turns; { text, sessionId (the X-Session-Id header) }.
async function chat(baseUrl, what, messages, turns, options = {}) {
  const { data, response } = await openaiClient(baseUrl).chat.completions
    .create({ model: MODEL, messages }, options).withResponse();
  const text = data.choices?.[0]?.message?.content ?? '';
  const shown = JSON.stringify(data);
  const sessionId = response.headers.get('x-session-id');
  assert.ok(text.startsWith('STUB-REPLY:'), `completion (${what}) should be a stub answer: ${shown}\n${diagnostics()}`);
  assert.equal(turnsOf(text), turns,
    `completion (${what}) of ${messages.length} message(s) should be answered after ${turns} user turn(s) ` +
    `("[user-turns=${turns}]"): ${shown}\nsent: ${JSON.stringify(messages)}\n${diagnostics()}`);
  assert.match(sessionId ?? '', UUID, `completion (${what}) should carry an X-Session-Id header: ${sessionId}`);
  return { text, sessionId };
}

// ---------------------------------------------------------------- jobs and chats, one service

describe('sessions, real CLI, WARM_CLI=off', { timeout: SUITE_TIMEOUT_MS }, () => {
  let service;
  let baseUrl;
  let workspace;

  before(async () => {
    workspace = gitWorkspace('sessions');
    ({ child: service, baseUrl } = await startSessionService(workspace));
  }, { timeout: 30_000 });

  after(async () => {
    if (service) await stopChild(service, STOP_TIMEOUT_MS);
  });

  test('a job resumed by job id, and that one resumed again: 1, 2, 3 user turns in one session', async (t) => {
    const before = await sessionCounters(baseUrl);
    const first = await turn(baseUrl, 'chain1', 1);
    assert.equal(first.resumed_from, null, `a fresh job resumes nothing: ${JSON.stringify(first)}`);
    assert.equal(first.resumed_session, null, `a fresh job resumes nothing: ${JSON.stringify(first)}`);
    assert.equal(first.fork, false, JSON.stringify(first));

    const second = await turn(baseUrl, 'chain2', 2, { resume: first.job_id });
    const third = await turn(baseUrl, 'chain3', 3, { resume: second.job_id });
    for (const [job, parent] of [[second, first], [third, second]]) {
      const shown = JSON.stringify(job);
      assert.equal(job.resumed_from, parent.job_id, `resumed_from is the job id given as resume: ${shown}`);
      assert.equal(job.resumed_session, parent.session_id, `resumed_session is that job's session: ${shown}`);
      assert.equal(job.fork, false, shown);
      assert.equal(job.session_id, first.session_id,
        `a resume (no fork) continues the same session ${first.session_id}: ${shown}\n${diagnostics()}`);
    }
    const now = await sessionCounters(baseUrl);
    assert.equal(moved(before, now).copy_stored, 3,
      `each of the 3 runs' session files is copied into the store: ${JSON.stringify(moved(before, now))}\n${diagnostics()}`);
    t.diagnostic(`session ${first.session_id}: jobs ${first.job_id} -> ${second.job_id} -> ${third.job_id}`);
  });

  test('fork: a new session with the parent\'s turns + 1; the parent stays resumable and unchanged', async (t) => {
    const parent = await turn(baseUrl, 'parent', 1);
    const fork = await turn(baseUrl, 'fork', 2, { resume: parent.job_id, fork: true });
    let shown = JSON.stringify(fork);
    assert.equal(fork.fork, true, shown);
    assert.equal(fork.resumed_from, parent.job_id, shown);
    assert.equal(fork.resumed_session, parent.session_id, shown);
    assert.notEqual(fork.session_id, parent.session_id,
      `a fork gets a session of its own, not the parent's ${parent.session_id}: ${shown}\n${diagnostics()}`);

    // The parent session did not get the fork's turn: resuming it is its second turn.
    const again = await turn(baseUrl, 'parent-again', 2, { resume: parent.job_id });
    shown = JSON.stringify(again);
    assert.equal(again.session_id, parent.session_id, `resuming the parent continues its session: ${shown}`);
    assert.equal(again.fork, false, shown);
    // And the fork is resumable as any session, by its session id this time.
    const forkAgain = await turn(baseUrl, 'fork-again', 3, { resume: fork.session_id });
    shown = JSON.stringify(forkAgain);
    assert.equal(forkAgain.resumed_from, fork.session_id, `resumed_from is the session id given: ${shown}`);
    assert.equal(forkAgain.resumed_session, fork.session_id, shown);
    assert.equal(forkAgain.session_id, fork.session_id, shown);
    t.diagnostic(`parent session ${parent.session_id}, fork ${fork.session_id}`);
  });

  test('resume of an unknown job id: 422 naming resume; of an unknown session id: the job fails', async (t) => {
    const unknownJob = randomBytes(6).toString('hex');
    const res = await api(baseUrl, 'POST', '/execute', { prompt: 'hello', agent: AGENT, resume: unknownJob });
    assert.equal(res.status, 422, `resume of unknown job ${unknownJob} should answer 422, got ${res.status}: ${res.text}`);
    const detail = res.json?.detail;
    assert.ok(Array.isArray(detail) && detail.some((d) => JSON.stringify(d.loc) === JSON.stringify(['body', 'resume'])),
      `the 422 should name ["body","resume"]: ${res.text}`);

    const unknownSession = randomUUID();
    const job = await runJob(baseUrl, { prompt: `${marker('nosession')}: hello`, resume: unknownSession });
    const shown = JSON.stringify(job);
    assert.equal(job.status, 'failed', `a job resuming an unknown session should fail: ${shown}\n${diagnostics()}`);
    assert.ok(job.error?.includes('No conversation found'),
      `its error should say "No conversation found": ${shown}\n${diagnostics()}`);
    assert.equal(job.resumed_from, unknownSession, shown);
    assert.equal(job.resumed_session, unknownSession, shown);
    t.diagnostic(`unknown session: ${job.error}`);
  });

  test('a session file deleted from the CLI\'s HOME between two turns is put back from the store', async (t) => {
    const first = await turn(baseUrl, 'lost1', 1);
    const file = sessionFile(workspace, first.session_id);
    assert.ok(existsSync(file), `the CLI should keep session ${first.session_id} at ${file}\n${diagnostics()}`);
    rmSync(file);
    const before = await sessionCounters(baseUrl);
    const second = await turn(baseUrl, 'lost2', 2, { resume: first.job_id });
    assert.equal(second.session_id, first.session_id, JSON.stringify(second));
    const delta = moved(before, await sessionCounters(baseUrl));
    assert.equal(delta.restore_restored, 1,
      `cas_session_restores_total{result="restored"} should go up by 1: ${JSON.stringify(delta)}\n${diagnostics()}`);
    assert.ok(existsSync(file), `the session file should be back at ${file}`);
    t.diagnostic(`counters moved by ${JSON.stringify(delta)}`);
  });

  test('chat with the OpenAI client: each turn continues the last answer\'s session; an edited history runs fresh', async (t) => {
    const before = await sessionCounters(baseUrl);
    const u1 = { role: 'user', content: `${marker('chat1')} asks about a C++ role` };
    const a1 = await chat(baseUrl, 'turn 1', [u1], 1);
    const u2 = { role: 'user', content: `${marker('chat2')} what is the salary?` };
    const history2 = [u1, { role: 'assistant', content: a1.text }, u2];
    const a2 = await chat(baseUrl, 'turn 2', history2, 2);
    assert.ok(a2.text.includes(u2.content.slice(0, 20)), `turn 2 answers the new message: ${a2.text}`);
    const u3 = { role: 'user', content: `${marker('chat3')} and remote work?` };
    const history3 = [...history2, { role: 'assistant', content: a2.text }, u3];
    const a3 = await chat(baseUrl, 'turn 3', history3, 3);
    assert.ok(a3.text.includes(u3.content.slice(0, 20)), `turn 3 answers the new message: ${a3.text}`);
    assert.equal(a2.sessionId, a1.sessionId, 'turn 2 continues the session of turn 1');
    assert.equal(a3.sessionId, a1.sessionId, 'turn 3 continues the session of turn 1');

    const edited = [{ role: 'user', content: `${marker('edited')} asks about a Rust role` }, ...history3.slice(1)];
    const e = await chat(baseUrl, 'edited history', edited, 1);
    assert.notEqual(e.sessionId, a1.sessionId, 'an edited history runs in a fresh session');

    const delta = moved(before, await sessionCounters(baseUrl));
    assert.equal(delta.chat_fresh, 2, `turn 1 and the edited history are fresh: ${JSON.stringify(delta)}`);
    assert.equal(delta.chat_continued, 2, `turns 2 and 3 are continued: ${JSON.stringify(delta)}`);
    assert.equal(delta.chat_explicit ?? 0, 0, `none explicit: ${JSON.stringify(delta)}`);
    t.diagnostic(`session ${a1.sessionId}; counters moved by ${JSON.stringify(delta)}`);
  });

  test('X-Session-Id: the header from one answer, sent with an unrelated history, continues that session', async (t) => {
    const before = await sessionCounters(baseUrl);
    const first = await chat(baseUrl, 'named 1', [{ role: 'user', content: `${marker('named1')} hello` }], 1);
    const u = { role: 'user', content: `${marker('named2')} unrelated one-message history` };
    const second = await chat(baseUrl, 'named 2', [u], 2, { headers: { 'X-Session-Id': first.sessionId } });
    assert.ok(second.text.includes(u.content.slice(0, 20)), `the CLI got the last user message: ${second.text}`);
    assert.equal(second.sessionId, first.sessionId, 'the answer names the session it continued');
    const delta = moved(before, await sessionCounters(baseUrl));
    assert.equal(delta.chat_fresh, 1, JSON.stringify(delta));
    assert.equal(delta.chat_explicit, 1, JSON.stringify(delta));
    assert.equal(delta.chat_continued ?? 0, 0, JSON.stringify(delta));
    t.diagnostic(`session ${first.sessionId}; counters moved by ${JSON.stringify(delta)}`);
  });
});

// ---------------------------------------------------------------- WARM_CLI=on

describe('sessions with the warm CLI on, real CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  let service;
  let baseUrl;
  let workspace;

  before(async () => {
    workspace = gitWorkspace('warm');
    ({ child: service, baseUrl } = await startSessionService(workspace, { WARM_CLI: 'on' }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service) await stopChild(service, STOP_TIMEOUT_MS);
  });

  // The warm-CLI counters, flattened: { hits, miss_none, ..., discard_stale, ... }.
  async function warmCounters() {
    const m = await metrics(baseUrl);
    const out = { hits: m.get('cas_warm_cli_hits_total') };
    for (const r of ['none', 'arguments', 'stale']) out[`miss_${r}`] = m.get('cas_warm_cli_misses_total', { reason: r });
    for (const r of ['replaced', 'stale', 'died', 'expired', 'shutdown']) {
      out[`discard_${r}`] = m.get('cas_warm_cli_discards_total', { reason: r });
    }
    return out;
  }

  // The CLI processes below the service (every run reads --input-format stream-json).
  const cliProcs = () => descendantsOf(service.proc.pid).filter((p) => p.cmdline.includes('--input-format stream-json'));

  // Until the service is idle and exactly one CLI, started ahead, waits below it with a
  // command line that passes `match`, the same process before and after the service says so
  // (a completion is answered before its CLI exits; the next one is started after that).
  async function untilWarmWaits(match, ms = 10_000) {
    const deadline = Date.now() + ms;
    let procs;
    for (;;) {
      procs = cliProcs();
      if (procs.length === 1 && procs[0].ppid === service.proc.pid && match(procs[0].cmdline)) {
        const idle = (await timeUntilIdle(baseUrl, 0)) !== null;
        const waiting = (await metrics(baseUrl)).get('cas_warm_cli_waiting');
        const again = cliProcs();
        if (idle && waiting === 1 && again.length === 1 && again[0].pid === procs[0].pid) return procs[0];
      }
      if (Date.now() >= deadline) {
        assert.fail(`no single matching warm CLI below the service within ${ms} ms; CLI processes:\n` +
          `${procs.map((p) => `${p.pid} ppid=${p.ppid}: ${p.cmdline}`).join('\n') || '(none)'}\n${diagnostics()}`);
      }
      await sleep(25);
    }
  }
  const fresh = (cmdline) => !cmdline.includes('--resume');
  const resuming = (sessionId) => (cmdline) => cmdline.includes(`--resume ${sessionId}`);

  test('the third turn of a chat runs in the CLI started ahead with --resume, and sees all three turns', async (t) => {
    await untilWarmWaits(fresh);
    const u1 = { role: 'user', content: `${marker('warm1')} asks about a C++ role` };
    const a1 = await chat(baseUrl, 'warm turn 1', [u1], 1);
    await untilWarmWaits(fresh);
    const u2 = { role: 'user', content: `${marker('warm2')} what is the salary?` };
    const history2 = [u1, { role: 'assistant', content: a1.text }, u2];
    const a2 = await chat(baseUrl, 'warm turn 2', history2, 2);
    await untilWarmWaits(resuming(a1.sessionId)); // started after turn 2, with turn 2 in the file
    const before = await warmCounters();
    const u3 = { role: 'user', content: `${marker('warm3')} and remote work?` };
    const history3 = [...history2, { role: 'assistant', content: a2.text }, u3];
    const a3 = await chat(baseUrl, 'warm turn 3', history3, 3);
    assert.equal(a3.sessionId, a1.sessionId, 'turn 3 continues the session of turn 1');
    const delta = moved(before, await warmCounters());
    assert.equal(delta.hits, 1, `turn 3 should run in the waiting CLI (a hit): ${JSON.stringify(delta)}\n${diagnostics()}`);
    t.diagnostic(`session ${a1.sessionId}; warm counters moved on turn 3 by ${JSON.stringify(delta)}`);

    // The session file deleted while a CLI waits to resume it: that one is stale; the run
    // gets the file back from the store and still sees every turn.
    const waiting = await untilWarmWaits(resuming(a1.sessionId));
    const file = sessionFile(workspace, a1.sessionId);
    assert.ok(existsSync(file), `the CLI should keep session ${a1.sessionId} at ${file}\n${diagnostics()}`);
    rmSync(file);
    const beforeWarm = await warmCounters();
    const beforeSessions = await sessionCounters(baseUrl);
    const u4 = { role: 'user', content: `${marker('warm4')} and the team?` };
    const history4 = [...history3, { role: 'assistant', content: a3.text }, u4];
    await chat(baseUrl, 'warm turn 4, file deleted', history4, 4);
    const warmDelta = moved(beforeWarm, await warmCounters());
    const sessionDelta = moved(beforeSessions, await sessionCounters(baseUrl));
    assert.equal(warmDelta.hits ?? 0, 0,
      `the CLI that waited with the deleted file must not run turn 4: ${JSON.stringify(warmDelta)}\n${diagnostics()}`);
    assert.ok((warmDelta.miss_stale ?? 0) + (warmDelta.discard_stale ?? 0) >= 1,
      `the waiting CLI should be found stale: ${JSON.stringify(warmDelta)}\n${diagnostics()}`);
    assert.equal(sessionDelta.restore_restored, 1,
      `the file should be restored from the store: ${JSON.stringify(sessionDelta)}\n${diagnostics()}`);
    const goneBy = Date.now() + 2_000;
    while (cliProcs().some((p) => p.pid === waiting.pid) && Date.now() < goneBy) await sleep(25);
    assert.ok(!cliProcs().some((p) => p.pid === waiting.pid), `the stale CLI ${waiting.pid} should be gone\n${diagnostics()}`);
    t.diagnostic(`turn 4: warm counters moved by ${JSON.stringify(warmDelta)}, session counters by ${JSON.stringify(sessionDelta)}`);
  });
});

// ---------------------------------------------------------------- CHAT_WAIT_SECONDS

describe('CHAT_WAIT_SECONDS, real CLI, WARM_CLI=off', { timeout: SUITE_TIMEOUT_MS }, () => {
  let waiting;
  let impatient;

  before(async () => {
    waiting = await startSessionService(gitWorkspace('wait10'), { CHAT_WAIT_SECONDS: '10' });
    impatient = await startSessionService(gitWorkspace('wait0'), { CHAT_WAIT_SECONDS: '0' });
  }, { timeout: 30_000 });

  after(async () => {
    for (const s of [waiting, impatient]) if (s) await stopChild(s.child, STOP_TIMEOUT_MS);
  });

  // Two completions sent at once; each settles to { ok, ms, text } or { ok: false, error }.
  async function twoAtOnce(baseUrl) {
    const client = openaiClient(baseUrl);
    const one = async (what) => {
      const started = Date.now();
      try {
        const c = await client.chat.completions.create({
          model: MODEL, messages: [{ role: 'user', content: `${marker(what)} at the same time` }],
        });
        return { ok: true, ms: Date.now() - started, text: c.choices?.[0]?.message?.content ?? '' };
      } catch (error) {
        return { ok: false, ms: Date.now() - started, error };
      }
    };
    return Promise.all([one('a'), one('b')]);
  }
  const show = (results) => JSON.stringify(results.map((r) => (r.ok ? { ok: true, ms: r.ms, text: r.text }
    : { ok: false, ms: r.ms, status: r.error?.status, message: r.error?.message })));

  test('CHAT_WAIT_SECONDS=10: two completions at once both succeed (the second waits for the slot)', async (t) => {
    const results = await twoAtOnce(waiting.baseUrl);
    assert.ok(results.every((r) => r.ok && turnsOf(r.text) === 1),
      `both completions should succeed (the second waits for the slot): ${show(results)}\n${diagnostics()}`);
    t.diagnostic(show(results));
  });

  test('CHAT_WAIT_SECONDS=0: two completions at once: one succeeds, the other gets 503 at once', async (t) => {
    assert.ok((await timeUntilIdle(impatient.baseUrl, 5_000)) !== null, 'the service is idle before');
    const results = await twoAtOnce(impatient.baseUrl);
    const ok = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    assert.equal(ok.length, 1, `exactly one completion should succeed: ${show(results)}\n${diagnostics()}`);
    assert.equal(refused.length, 1, `exactly one should be refused: ${show(results)}\n${diagnostics()}`);
    assert.ok(refused[0].error instanceof OpenAI.APIError && refused[0].error.status === 503,
      `the refused one should be an APIError with status 503: ${show(results)}\n${diagnostics()}`);
    assert.ok(refused[0].ms < ok[0].ms, `the 503 comes before the answer (no wait): ${show(results)}`);
    t.diagnostic(show(results));
  });
});
