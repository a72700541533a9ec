// End-to-end: the Responses and Messages APIs' fast, deterministic cases with the official
// `openai` and `@anthropic-ai/sdk` clients against the service running the fake CLI
// (tests/fixtures/fake-claude, driven by "FAKE:" lines in the prompt): a client that drops a
// stream (or a whole answer) frees the slot within a second and leaves no process; a busy
// slot is each API's own error (503 server_error; Anthropic's 529 overloaded_error) with
// Retry-After; a run that fails is response.failed / an `error` event, or a 503 the clients
// are told not to retry; keep-alives (Anthropic's ping) pass through the clients unseen.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/model-apis-fake-cli.test.mjs
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  descendantsOf, installGuards, isBusy, killAll, serviceBinary, sleep, startService, stopChild, tail,
  timeUntilIdle,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE_CLAUDE = join(HERE, '..', 'fixtures', 'fake-claude');
const TOKEN = 'e2e-model-apis-fake-token';
const MODEL = 'claude-haiku-4-5';
const SUITE_TIMEOUT_MS = 90_000;
const WATCHDOG_MS = 105_000;
const STOP_TIMEOUT_MS = 10_000;
const CANCEL_LIMIT_MS = 1_000;

installGuards('model-apis-fake-cli.test.mjs', WATCHDOG_MS);

let tmp;
let service;
let baseUrl;

const diagnostics = () => (service ? tail(service, 30) : '(service not started)');
const openai = (options = {}) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000, ...options });
const anthropic = (options = {}) => new Anthropic({ baseURL: baseUrl, apiKey: TOKEN, maxRetries: 0, timeout: 30_000, ...options });
const userMessages = (content) => [{ role: 'user', content }];

async function waitForFakeClaude(ms = 3_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (descendantsOf(service.proc.pid).some((p) => p.cmdline.includes('fake-claude'))) return;
    await sleep(20);
  }
  assert.fail(`no fake-claude below the service within ${ms} ms\n${diagnostics()}`);
}

// The slot is free within CANCEL_LIMIT_MS of `abortedAt`, and no process of the run is left.
async function assertRunCancelled(abortedAt, what) {
  const idleAfter = await timeUntilIdle(baseUrl, CANCEL_LIMIT_MS, abortedAt);
  assert.ok(idleAfter !== null, `${what}: still busy ${CANCEL_LIMIT_MS} ms after the client left\n${diagnostics()}`);
  assert.deepEqual(descendantsOf(service.proc.pid), [], `${what}: processes of the run remain`);
  return idleAfter;
}

// A raw POST with fetch: { status, headers, json }.
async function post(path, body, headers = {}) {
  const res = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

describe('responses and messages against the fake CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-model-apis-fake-'));
    const workspace = join(tmp, 'workspace');
    mkdirSync(workspace);
    ({ child: service, baseUrl } = await startService({
      binary: serviceBinary(),
      cwd: tmp,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: tmp,
        API_BEARER_TOKEN: TOKEN,
        CLAUDE_BIN: FAKE_CLAUDE,
        WORKSPACE_DIR: workspace,
        DATA_DIR: join(tmp, 'data'),
        GIT_SYNC: 'off',
        WARM_CLI: 'off', // "no process left" must hold once idle
        OPENAI_TIMEOUT_SECONDS: '60',
        KILL_GRACE_MS: '500',
        SSE_KEEPALIVE_MS: '200',
      },
    }));
  }, { timeout: 30_000 });

  afterEach(async () => {
    if (!service) return;
    const idle = await timeUntilIdle(baseUrl, 5_000);
    assert.ok(idle !== null, `the service is still busy 5 s after the test\n${diagnostics()}`);
  });

  after(async () => {
    if (service) await stopChild(service, STOP_TIMEOUT_MS);
    killAll();
    if (tmp) {
      if (process.env.CAS_E2E_KEEP === '1') {
        if (service) writeFileSync(join(tmp, 'service.log'), service.log.join('\n') + '\n');
        process.stderr.write(`kept ${tmp}\n`);
      } else rmSync(tmp, { recursive: true, force: true });
    }
  }, { timeout: 30_000 });

  test('a responses stream whose client breaks out of the iteration is cancelled within 1 s', async (t) => {
    const stream = await openai().responses.create({ model: MODEL, input: 'x\nFAKE:stall-after-init=30', stream: true });
    let abortedAt;
    for await (const event of stream) {
      assert.equal(event.type, 'response.created');
      await waitForFakeClaude();
      abortedAt = Date.now();
      break;
    }
    t.diagnostic(`idle ${await assertRunCancelled(abortedAt, 'responses stream')} ms after the break`);
  });

  test('a messages stream whose client aborts is cancelled within 1 s', async (t) => {
    const controller = new AbortController();
    const stream = anthropic().messages.stream(
      { model: MODEL, max_tokens: 100, messages: userMessages('x\nFAKE:stall-after-init=30') },
      { signal: controller.signal });
    const seen = [];
    stream.on('streamEvent', (event) => seen.push(event.type));
    stream.on('error', () => {});
    await waitForFakeClaude();
    await sleep(700); // a few 200 ms keep-alives (pings) go by
    const abortedAt = Date.now();
    controller.abort();
    await stream.done().catch(() => {});
    t.diagnostic(`idle ${await assertRunCancelled(abortedAt, 'messages stream')} ms after the abort; events ${seen}`);
    assert.ok(seen.includes('message_start'), `events: ${seen}`);
  });

  test('a silent run\'s messages stream carries Anthropic pings; the SDK skips them', async () => {
    const raw = await post('/v1/messages', { model: MODEL, max_tokens: 10, stream: true, messages: userMessages('x\nFAKE:stall-after-init=1\nFAKE:text=after the pause') });
    assert.equal(raw.status, 200, raw.text);
    assert.ok(raw.text.includes('event: ping\ndata: {"type":"ping"}\n\n'), raw.text);
    assert.ok(raw.text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'), raw.text);
    const text = await anthropic().messages.stream({ model: MODEL, max_tokens: 10, messages: userMessages('x\nFAKE:stall-after-init=1\nFAKE:text=after the pause') }).finalText();
    assert.equal(text, 'after the pause');
  });

  for (const api of ['responses', 'messages']) {
    test(`a whole ${api} answer whose client leaves after 300 ms is cancelled within 1 s`, async () => {
      const controller = new AbortController();
      const pending = api === 'responses'
        ? openai().responses.create({ model: MODEL, input: 'x\nFAKE:sleep=30' }, { signal: controller.signal })
        : anthropic().messages.create({ model: MODEL, max_tokens: 100, messages: userMessages('x\nFAKE:sleep=30') }, { signal: controller.signal });
      pending.catch(() => {});
      await sleep(300);
      await waitForFakeClaude();
      const abortedAt = Date.now();
      controller.abort();
      await assert.rejects(pending);
      await assertRunCancelled(abortedAt, `whole ${api}`);
    });
  }

  test('while one runs, responses get 503 server_error and messages 529 overloaded_error, with Retry-After', async () => {
    const first = await openai().responses.create({ model: MODEL, input: 'first\nFAKE:sleep=2\nFAKE:text=first run done', stream: true });
    assert.equal(await isBusy(baseUrl), true);
    await assert.rejects(openai().responses.create({ model: MODEL, input: 'second' }), (err) => {
      assert.ok(err instanceof OpenAI.InternalServerError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 503);
      assert.equal(err.error?.type, 'server_error');
      assert.ok(err.headers?.get('retry-after'));
      return true;
    });
    await assert.rejects(anthropic().messages.create({ model: MODEL, max_tokens: 10, messages: userMessages('second') }), (err) => {
      assert.ok(err instanceof Anthropic.APIError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 529);
      assert.equal(err.error?.type, 'error');
      assert.equal(err.error?.error?.type, 'overloaded_error');
      assert.ok(err.headers?.get('retry-after'));
      return true;
    });
    const raw = await post('/v1/messages', { model: MODEL, max_tokens: 10, messages: userMessages('third'), stream: true }, { 'x-api-key': TOKEN });
    assert.equal(raw.status, 529, raw.text);
    assert.match(raw.headers.get('content-type') ?? '', /^application\/json\b/);
    let text = '';
    for await (const event of first) if (event.type === 'response.output_text.delta') text += event.delta;
    assert.equal(text, 'first run done', 'the first run is not disturbed');
  });

  test('a run that fails: response.failed with the reason; an Anthropic error event; whole answers 503 not to be retried', async () => {
    const events = [];
    for await (const event of await openai().responses.create({ model: MODEL, input: 'x\nFAKE:is-error', stream: true })) events.push(event);
    const last = events.at(-1);
    assert.equal(last.type, 'response.failed', JSON.stringify(events));
    assert.equal(last.response.status, 'failed');
    assert.ok(last.response.error.message.includes('API Error'), JSON.stringify(last));

    const stream = anthropic().messages.stream({ model: MODEL, max_tokens: 10, messages: userMessages('x\nFAKE:is-error') });
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof Anthropic.APIError, `${err?.constructor?.name}: ${err}`);
      assert.ok(err.message.includes('API Error'), err.message);
      return true;
    });

    for (const [path, body] of [
      ['/v1/responses', { model: MODEL, input: 'x\nFAKE:is-error' }],
      ['/v1/messages', { model: MODEL, max_tokens: 10, messages: userMessages('x\nFAKE:is-error') }],
    ]) {
      const res = await post(path, body);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers.get('x-should-retry'), 'false', `${path}: the SDKs must not run the agent again`);
      assert.ok(JSON.stringify(res.json).includes('API Error'), res.text);
    }
  });

  test('SIGTERM stops the service with exit code 0', async () => {
    const result = await stopChild(service, STOP_TIMEOUT_MS);
    assert.deepEqual({ code: result?.code, signal: result?.signal }, { code: 0, signal: null }, tail(service));
    service = null;
  });
});
