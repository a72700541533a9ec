// End-to-end: claude-agent-service running the real Claude Code CLI (from this
// directory's node_modules) against messages-stub.mjs, driven over loopback HTTP,
// with fetch and with the official `openai` client (non-streamed and streamed).
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/real-cli.test.mjs
//
// Needs `npm ci` in tests/e2e. CAS_E2E_KEEP=1 keeps the temp dir (workspace, HOME).
// Registered with CTest as "e2e: real CLI and openai client".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  apiRequest, cleanEnv, descendantsOf, installGuards, killAll, liveChildren, processTable,
  realCliEnv, serviceBinary, sleep, startService, startStub, stopChild, tail, within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-token';

const SUITE_TIMEOUT_MS = 120_000; // a hang fails the suite within ~2 minutes
const WATCHDOG_MS = 135_000; // last resort if a hung request outlives the suite timeout (CTest: 180 s)
const STARTUP_TIMEOUT_MS = 15_000;
const JOB_POLL_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

const marker = (what) => `e2e-${what}-${randomBytes(4).toString('hex')}`;

installGuards('real-cli.test.mjs', WATCHDOG_MS);

// ---------------------------------------------------------------- fixture

let tmp;
let stub;
let service;
let baseUrl;
let serviceStopped = false;

function diagnostics() {
  // The service logs every poll of GET /jobs/{id}; those lines would hide the rest.
  const notPoll = (line) => !line.includes('"method":"GET"');
  return [service, stub].filter(Boolean).map((c) => tail(c, 25, notPoll)).join('\n');
}

const api = (method, path, body) => apiRequest(baseUrl, TOKEN, method, path, body);

async function startJob(prompt, agent) {
  const res = await api('POST', '/execute', { prompt, agent });
  assert.equal(res.status, 202, `POST /execute should answer 202, got ${res.status}: ${res.text}`);
  assert.match(res.json?.job_id ?? '', /^[0-9a-f]{12}$/, `POST /execute should return a job_id: ${res.text}`);
  assert.equal(res.json.status, 'running', `a new job should be 'running': ${res.text}`);
  return res.json.job_id;
}

async function waitForJob(id, ms = JOB_POLL_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await api('GET', `/jobs/${id}`);
    assert.equal(last.status, 200, `GET /jobs/${id} should answer 200, got ${last.status}: ${last.text}`);
    if (last.json.status !== 'running') return last.json;
    await sleep(200);
  }
  assert.fail(`job ${id} still running after ${ms} ms: ${last?.text}\n${diagnostics()}`);
}

function openaiClient() {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
}

// ---------------------------------------------------------------- tests

describe('claude-agent-service with the real Claude Code CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  before(async () => {
    const binary = serviceBinary();
    assert.doesNotThrow(() => accessSync(CLAUDE_BIN, constants.X_OK),
      `${CLAUDE_BIN} is missing: run \`npm ci\` in ${HERE}`);

    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-'));
    const workspace = join(tmp, 'workspace');
    const home = join(tmp, 'home');
    mkdirSync(join(workspace, '.claude', 'agents'), { recursive: true });
    mkdirSync(home);
    execFileSync('git', ['init', '-q', workspace]);
    writeFileSync(join(workspace, '.claude', 'agents', 'recruiter-triage.md'), [
      '---',
      'name: recruiter-triage',
      'description: Triages a recruiter message and drafts a short reply.',
      '---',
      'You are the recruiter triage agent. Classify the message and draft a reply.',
      '',
    ].join('\n'));

    let stubPort;
    ({ stub, port: stubPort } = await startStub(STUB, cleanEnv(home), STARTUP_TIMEOUT_MS));

    ({ child: service, baseUrl } = await startService({
      binary,
      cwd: tmp,
      startupMs: STARTUP_TIMEOUT_MS,
      env: {
        ...realCliEnv(home, stubPort),
        API_BEARER_TOKEN: TOKEN,
        WORKSPACE_DIR: workspace,
        CLAUDE_BIN,
        GIT_SYNC: 'off',
        OPENAI_AGENT: 'recruiter-triage',
      },
    }));
  }, { timeout: 30_000 });

  after(async () => {
    // Normally the last test has stopped the service; after a failure, make sure.
    if (service && !serviceStopped) await stopChild(service, STOP_TIMEOUT_MS);
    if (stub) stub.proc.kill('SIGTERM');
    await within(Promise.all(liveChildren().map((c) => c.exited)), 5_000);
    killAll();
    if (tmp) {
      if (process.env.CAS_E2E_KEEP === '1') {
        for (const c of [service, stub].filter(Boolean)) writeFileSync(join(tmp, `${c.name}.log`), c.log.join('\n') + '\n');
        process.stderr.write(`kept ${tmp} (workspace, home, *.log)\n`);
      } else rmSync(tmp, { recursive: true, force: true });
    }
  }, { timeout: 30_000 });

  test('POST /execute runs the CLI and the job completes with the stub reply', { timeout: 75_000 }, async () => {
    const mark = marker('job');
    const id = await startJob(`${mark}: recruiter offers a C++ role, please triage`, 'recruiter-triage');
    const job = await waitForJob(id);
    const shown = JSON.stringify(job);
    assert.equal(job.status, 'completed', `job should complete, got ${job.status}: ${shown}\n${diagnostics()}`);
    assert.ok(job.result?.includes('STUB-REPLY:'), `job result should contain "STUB-REPLY:": ${shown}`);
    assert.ok(job.result.includes(mark), `job result should contain the marker ${mark}: ${shown}`);
    assert.ok(job.usage?.output_tokens > 0, `job usage.output_tokens should be > 0: ${JSON.stringify(job.usage)}`);
  });

  test('the openai client gets a chat completion with the stub reply and usage', { timeout: 75_000 }, async () => {
    const mark = marker('chat');
    const completion = await openaiClient().chat.completions.create({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: `${mark} is the subject of this recruiter message` }],
    });
    const shown = JSON.stringify(completion);
    const content = completion.choices?.[0]?.message?.content ?? '';
    assert.equal(completion.object, 'chat.completion', `object should be chat.completion: ${shown}`);
    assert.ok(content.includes('STUB-REPLY:'), `completion content should contain "STUB-REPLY:": ${shown}`);
    assert.ok(content.includes(mark), `completion content should contain the marker ${mark}: ${shown}`);
    assert.ok(completion.usage?.total_tokens > 0, `usage.total_tokens should be > 0: ${shown}`);
  });

  test('the openai client streams the same text as the non-streamed completion, and usage', { timeout: 75_000 }, async () => {
    const mark = marker('stream');
    const request = {
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: `${mark} asks whether streaming works for this role` }],
    };
    const client = openaiClient();
    const whole = await client.chat.completions.create(request);
    const expected = whole.choices?.[0]?.message?.content ?? '';
    assert.ok(expected.includes('STUB-REPLY:') && expected.includes(mark),
      `non-streamed content should contain "STUB-REPLY:" and ${mark}: ${JSON.stringify(whole)}\n${diagnostics()}`);

    const stream = await client.chat.completions.create({
      ...request, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const shown = JSON.stringify(chunks);
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, expected, `streamed text should equal the non-streamed text; chunks: ${shown}\n${diagnostics()}`);
    const contentChunks = chunks.filter((c) => c.choices?.[0]?.delta?.content).length;
    assert.ok(contentChunks >= 2, `the stub's deltas should arrive as several chunks, got ${contentChunks}: ${shown}`);
    assert.equal(chunks[0]?.choices?.[0]?.delta?.role, 'assistant', `first chunk should carry role assistant: ${shown}`);
    const finishes = chunks.filter((c) => c.choices?.[0]?.finish_reason != null);
    assert.deepEqual(finishes.map((c) => c.choices[0].finish_reason), ['stop'],
      `exactly one chunk should have finish_reason "stop": ${shown}`);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, [], `the last (usage) chunk should have empty choices: ${shown}`);
    assert.ok(last.usage?.total_tokens > 0, `the usage chunk should have total_tokens > 0: ${JSON.stringify(last)}`);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens,
      `total_tokens should be prompt + completion: ${JSON.stringify(last.usage)}`);
  });

  test('the openai client gets a 400 APIError naming an unsupported model', { timeout: 20_000 }, async () => {
    await assert.rejects(
      openaiClient().chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hello' }],
      }),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `expected an OpenAI.APIError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 400, `expected status 400, got ${err.status}: ${err.message}`);
        assert.ok(err.message.includes('gpt-4o'), `error message should mention the model gpt-4o: ${err.message}`);
        assert.equal(err.param, 'model', `error param should be "model": ${JSON.stringify(err.error)}`);
        return true;
      },
      'chat.completions.create with model gpt-4o should reject',
    );
  });

  // With stream-json input the real CLI runs an unknown --agent as its default agent, without
  // a word; the service asks the CLI its agents (the initialize control request) before it
  // sends the prompt, and fails the run with "Agent 'X' not found; the CLI has: ...": the
  // prompt never reaches the model.
  test('a job with an unknown agent fails with "Agent \'no-such-agent\' not found"', { timeout: 75_000 }, async (t) => {
    const modelRequests = () => stub.log.filter((line) => line.includes('POST /v1/messages')).length;
    const requestsBefore = modelRequests();
    const id = await startJob(`${marker('noagent')}: hello`, 'no-such-agent');
    const job = await waitForJob(id);
    const shown = JSON.stringify(job);
    assert.equal(job.status, 'failed', `job with agent no-such-agent should fail, got ${job.status}: ${shown}`);
    assert.match(job.error ?? '', /Agent 'no-such-agent' not found/, `job error should name the agent: ${shown}`);
    assert.ok(job.error.includes('recruiter-triage'), `job error should list the CLI's agents: ${shown}`);
    assert.ok(!job.result?.includes('STUB-REPLY'), `the default agent must not have answered: ${shown}`);
    await sleep(300); // a request the CLI had started would reach the stub by now
    assert.equal(modelRequests(), requestsBefore, `the prompt reached the model:\n${stub.log.join('\n')}`);
    t.diagnostic(job.error);
  });

  test('SIGTERM stops the service with exit code 0 and leaves no process', { timeout: STOP_TIMEOUT_MS + 5_000 }, async (t) => {
    assert.ok(service, 'the service should have been started');
    // WARM_CLI is on (the default): a CLI started ahead for the next run is likely waiting.
    const before = descendantsOf(service.proc.pid);
    service.proc.kill('SIGTERM');
    const result = await within(service.exited, STOP_TIMEOUT_MS);
    assert.ok(result, `service did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${tail(service)}`);
    serviceStopped = true;
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null },
      `service should exit with code 0 after SIGTERM\n${tail(service)}`);
    const table = processTable();
    const left = before.filter((p) => table.get(p.pid)?.cmdline === p.cmdline);
    assert.deepEqual(left, [], 'processes the service started are left after it exited: ' +
      left.map((p) => `${p.pid} ${p.cmdline}`).join('; '));
    t.diagnostic(`${before.length} process(es) below the service before SIGTERM, none after`);
  });
});
