// End-to-end: the agent's confinement with the real Claude Code CLI against messages-stub.mjs,
// whose model runs what a prompt names through the CLI's Bash tool (STUB-BASH=<command>) and
// answers with the tool's output. The probe is the one an agent would try: read the job
// database. Without AGENT_USER it reads it (so the probe can tell); with it, permission is
// denied; in the bubblewrap sandbox the database is not there at all, / is read-only, /proc
// holds the box's processes only, a run still streams, times out and is cancelled whole, and
// the CLI started ahead for the next run waits in the same box as the same user.
// Needs root (the test user `cas-agent` is made, the service switches to it) and bwrap.
//
//   CAS_SERVICE_BINARY=build/ci/claude-agent-service node --test tests/e2e/confinement.test.mjs
//
// Registered with CTest as "e2e: confinement with the real CLI".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  apiRequest, cleanEnv, descendantsOf, gitIn, installGuards, killAll, liveChildren, realCliEnv,
  serviceBinary, sleep, startService, startStub, stopChild, tail, within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-token';
const AGENT = 'recruiter-triage';
const USER = 'cas-agent';

installGuards('confinement.test.mjs', 170_000);

// The test user, made if missing (as tests/agent_user.hpp does); null when not root.
function agentUser() {
  if (process.getuid() !== 0) return null;
  execFileSync('flock', ['/tmp/cas-agent-user.lock', 'sh', '-c',
    `id -u ${USER} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ${USER}`]);
  const id = (flag) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function giveTo(user, path) {
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, path]);
}

const user = agentUser();
const hasBwrap = (() => {
  try { execFileSync('sh', ['-c', 'command -v bwrap']); return true; } catch { return false; }
})();
const skip = !user ? 'needs root (switching users)' : !hasBwrap ? 'needs bwrap (Debian: bubblewrap)' : false;

let tmp;
let workspace;
let stub;
let stubPort;
const services = [];

// A service on its own DATA_DIR with `env` added; { service, baseUrl, api, data, runJob }.
async function serve(name, env) {
  const data = join(tmp, `data-${name}`);
  const home = join(tmp, `home-${name}`);
  mkdirSync(home);
  if (env.AGENT_USER) giveTo(user, home);
  const { child, baseUrl } = await startService({
    cwd: tmp,
    binary: serviceBinary(),
    env: {
      ...realCliEnv(join(tmp, 'home-root'), stubPort),
      API_BEARER_TOKEN: TOKEN,
      WORKSPACE_DIR: workspace,
      DATA_DIR: data,
      CLAUDE_BIN,
      GIT_SYNC: 'off',
      OPENAI_AGENT: AGENT,
      KILL_GRACE_MS: '300',
      ...(env.AGENT_USER ? { AGENT_HOME: home } : {}),
      // The CLI is in this checkout, which may be under /tmp: the box hides /tmp.
      ...(env.AGENT_SANDBOX ? { AGENT_SANDBOX_EXTRA: `ro:${join(HERE, 'node_modules')}` } : {}),
      ...env,
    },
  });
  services.push(child);
  const api = (method, path, body) => apiRequest(baseUrl, TOKEN, method, path, body);
  const diagnostics = () => [child, stub].map((c) => tail(c, 25, (l) => !l.includes('"method":"GET"'))).join('\n');
  const waitJob = async (id) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const job = await api('GET', `/jobs/${id}`);
      if (job.json.status !== 'running' && job.json.status !== 'queued') return job.json;
      assert.ok(Date.now() < deadline, `job still running: ${job.text}\n${diagnostics()}`);
      await sleep(100);
    }
  };
  const submit = async (body) => {
    const started = await api('POST', '/execute', { agent: AGENT, ...body });
    assert.equal(started.status, 202, `POST /execute: ${started.text}`);
    return started.json.job_id;
  };
  const runJob = async (body) => waitJob(await submit(body));
  // What the agent's Bash tool printed for `command`.
  const bash = async (command) => {
    const job = await runJob({ prompt: `Run it. STUB-BASH=${command}` });
    assert.equal(job.status, 'completed', `${JSON.stringify(job)}\n${diagnostics()}`);
    assert.match(job.result, /^STUB-REPLY: ran: /, job.result);
    return job.result.slice('STUB-REPLY: ran: '.length);
  };
  return { service: child, baseUrl, api, data, submit, waitJob, runJob, bash, diagnostics };
}

// No process of a run is left below the service (after `ms` at most: the record is final a
// moment before the last process is reaped).
async function noRunLeft(service, ms = 3_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = descendantsOf(service.proc.pid);
    if (left.length === 0) return;
    assert.ok(Date.now() < deadline, `processes left: ${JSON.stringify(left)}`);
    await sleep(50);
  }
}

describe('the agent confined, with the real CLI', { timeout: 160_000, skip }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-confinement-'));
    chmodSync(tmp, 0o755);  // the agent's user reaches its workspace and home through it
    workspace = join(tmp, 'workspace');
    const rootHome = join(tmp, 'home-root');
    mkdirSync(join(workspace, '.claude', 'agents'), { recursive: true });
    mkdirSync(rootHome);
    writeFileSync(join(workspace, '.claude', 'agents', `${AGENT}.md`),
      ['---', `name: ${AGENT}`, 'description: Runs what it is asked.', '---', 'Do as asked.', ''].join('\n'));
    gitIn(rootHome, tmp, 'init', '-q', workspace);
    gitIn(rootHome, workspace, 'add', '-A');
    gitIn(rootHome, workspace, 'commit', '-q', '-m', 'the agent');
    giveTo(user, workspace);
    ({ stub, port: stubPort } = await startStub(STUB, cleanEnv(rootHome), 15_000));
  }, { timeout: 30_000 });

  after(async () => {
    for (const service of services) await stopChild(service, 10_000);
    if (stub) stub.proc.kill('SIGTERM');
    await within(Promise.all(liveChildren().map((c) => c.exited)), 5_000);
    killAll();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('without AGENT_USER the agent reads the job database through its Bash tool (the probe can tell)', { timeout: 60_000 }, async () => {
    const open = await serve('open', {});
    const read = await open.bash(`head -c 15 ${join(open.data, 'jobs.db')}`);
    assert.match(read, /SQLite format 3/, read);
    await stopChild(open.service);
  });

  test('AGENT_USER: the same probe is denied, and the agent is that user', { timeout: 60_000 }, async () => {
    const confined = await serve('user', { AGENT_USER: USER });
    const read = await confined.bash(`head -c 15 ${join(confined.data, 'jobs.db')}; id -un`);
    assert.match(read, /Permission denied/, read);
    assert.doesNotMatch(read, /SQLite/, read);
    assert.match(read, new RegExp(`\\b${USER}\\b`), read);
    await stopChild(confined.service);
  });

  test('AGENT_SANDBOX=bwrap with AGENT_USER: no job store, a read-only /, its own /proc; streaming, timeout and cancel still work', { timeout: 90_000 }, async () => {
    // No CLI started ahead here (the next test has one): after each run nothing may be left.
    const boxed = await serve('box', { AGENT_USER: USER, AGENT_SANDBOX: 'bwrap', WARM_CLI: 'off' });
    const database = join(boxed.data, 'jobs.db');
    const seen = await boxed.bash(
      `test -e ${database} && echo database-visible || echo database-gone; ` +
      `touch /usr/cas-e2e-probe 2>&1; echo pids: $(ls /proc | grep '^[0-9]')`);
    assert.match(seen, /database-gone/, seen);
    assert.match(seen, /Read-only file system/, seen);
    assert.ok(!existsSync('/usr/cas-e2e-probe'));
    const pids = (/pids:([ \d]*)/.exec(seen)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
    assert.ok(pids.length > 0 && pids.length <= 12, `the box's /proc lists the box's processes only: ${seen}`);
    assert.ok(!pids.includes(String(boxed.service.proc.pid)), `the service is not among them: ${seen}`);

    // Streaming, through the openai client.
    const openai = new OpenAI({ baseURL: `${boxed.baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
    const stream = await openai.chat.completions.create({
      model: 'claude-haiku-4-5', stream: true, messages: [{ role: 'user', content: 'hello from the box' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.match(text, /^STUB-REPLY: [^]*hello from the box$/, `${text}\n${boxed.diagnostics()}`);
    await noRunLeft(boxed.service);

    // A timeout ends the box and all in it.
    const timedOut = await boxed.runJob({ prompt: 'STUB-HOLD=30000 hold on', timeout_seconds: 3 });
    assert.equal(timedOut.status, 'timeout', JSON.stringify(timedOut));
    await noRunLeft(boxed.service);

    // So does a cancel, once the CLI is running.
    const id = await boxed.submit({ prompt: 'STUB-HOLD=30000 hold on' });
    await sleep(1_500);  // the CLI started and is waiting for its answer
    const cancelled = await boxed.api('POST', `/jobs/${id}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((await boxed.waitJob(id)).status, 'cancelled');
    await noRunLeft(boxed.service);
    await stopChild(boxed.service);
  });

  test('AGENT_SANDBOX=bwrap with AGENT_USER: the CLI started ahead waits in the same box, as the same user', { timeout: 60_000 }, async () => {
    const boxed = await serve('warm', { AGENT_USER: USER, AGENT_SANDBOX: 'bwrap' });
    const openai = new OpenAI({ baseURL: `${boxed.baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
    const ask = async (content) => (await openai.chat.completions.create({
      model: 'claude-haiku-4-5', messages: [{ role: 'user', content }],
    })).choices[0].message.content;
    assert.match(await ask('first'), /first$/, boxed.diagnostics());
    // The next run's CLI, started ahead: a box (bwrap) below the service, the CLI in it as the user.
    const uidOf = (pid) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    // The answered run's box ends just after its answer: wait until the one started ahead is
    // all that is left below the service.
    let waiting = [];
    let direct = [];
    const deadline = Date.now() + 10_000;
    while (direct.length !== 1 || !waiting.some((p) => p.comm === 'claude')) {
      assert.ok(Date.now() < deadline, `not one box with a CLI waiting: ${JSON.stringify(waiting)}`);
      await sleep(100);
      waiting = descendantsOf(boxed.service.proc.pid);
      direct = waiting.filter((p) => p.ppid === boxed.service.proc.pid);
    }
    assert.equal(direct[0].comm, 'bwrap', JSON.stringify(waiting));
    for (const p of waiting.filter((q) => q.comm === 'claude')) assert.equal(uidOf(p.pid), user.uid);
    assert.match(await ask('second'), /second$/, boxed.diagnostics());
    await stopChild(boxed.service);
  });
});
