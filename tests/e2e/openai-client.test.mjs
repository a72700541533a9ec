// End-to-end: the official `openai` npm client against claude-agent-service running the
// fake CLI (tests/fixtures/fake-claude, driven by "FAKE:" lines in the prompt), over
// loopback HTTP: completions streamed and not, SSE framing, models, errors, the busy slot,
// and a client that leaves mid-run (its run must be cancelled and its processes ended).
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/openai-client.test.mjs
//
// Needs `npm ci` in tests/e2e (for `openai`). CAS_E2E_KEEP=1 keeps the temp dir and the log.
// Registered with CTest as "e2e: openai client against the fake CLI".
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  descendantsOf, installGuards, isBusy, killAll, serviceBinary, sleep, startService, stopChild, tail,
  timeUntilIdle,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE_CLAUDE = join(HERE, '..', 'fixtures', 'fake-claude');
const TOKEN = 'e2e-openai-token';
const MODELS = ['claude-haiku-4-5', 'claude-sonnet-4-6', 'claude-opus-4-7'];

const SUITE_TIMEOUT_MS = 90_000;
const WATCHDOG_MS = 105_000; // CTest: 120 s
const STOP_TIMEOUT_MS = 10_000;
const CANCEL_LIMIT_MS = 1_000; // a run whose client left must have ended within this

// The fake's result usage is input 11 + cache creation 5 + cache read 7, output 13.
const FAKE_USAGE = {
  prompt_tokens: 23,
  completion_tokens: 13,
  total_tokens: 36,
  prompt_tokens_details: { cached_tokens: 7 },
};
// Long enough for several 8-character deltas, with characters JSON must escape.
const ANSWER = 'The quick brown fox jumps over the "lazy" dog, then naps; ünïcødé ✓ at the end.';

installGuards('openai-client.test.mjs', WATCHDOG_MS);

// ---------------------------------------------------------------- fixture

let tmp;
let service;
let baseUrl;
let serviceStopped = false;

const user = (content) => [{ role: 'user', content }];
const diagnostics = () => (service ? tail(service, 30) : '(service not started)');

function client(options = {}) {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000, ...options });
}

// Raw POST /v1/chat/completions with fetch.
function postCompletion(body, init = {}) {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
    ...init,
  });
}

// The processes the service has started that are still alive (with WARM_CLI=off, only runs).
const serviceDescendants = () => descendantsOf(service.proc.pid);
const showProcs = (procs) => procs.map((p) => `${p.pid} (${p.comm}) ppid=${p.ppid}: ${p.cmdline}`).join('\n');

// Waits until a fake-claude run below the service is alive; proves the /proc walk sees it.
async function waitForFakeClaude(ms = 3_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const procs = serviceDescendants();
    if (procs.some((p) => p.comm.includes('fake-claude') || p.cmdline.includes('fake-claude'))) return procs;
    if (Date.now() >= deadline) {
      assert.fail(`no fake-claude process below the service (pid ${service.proc.pid}) within ${ms} ms; ` +
        `descendants:\n${showProcs(procs)}\n${diagnostics()}`);
    }
    await sleep(20);
  }
}

// After a client left at `abortedAt`: the slot is free within CANCEL_LIMIT_MS and no
// process the run started is left.
async function assertRunCancelled(abortedAt, what) {
  const idleAfter = await timeUntilIdle(baseUrl, CANCEL_LIMIT_MS, abortedAt);
  assert.ok(idleAfter !== null,
    `${what}: GET /health still busy ${CANCEL_LIMIT_MS} ms after the client aborted\n` +
    `descendants:\n${showProcs(serviceDescendants())}\n${diagnostics()}`);
  const left = serviceDescendants();
  assert.deepEqual(left, [], `${what}: processes started by the service remain after the run ended ` +
    `(idle after ${idleAfter} ms):\n${showProcs(left)}`);
  return idleAfter;
}

// Every chunk of a streamed completion, read with the SDK.
async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
const streamedText = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

// ---------------------------------------------------------------- tests

describe('the openai client against claude-agent-service with the fake CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  before(async () => {
    const binary = serviceBinary();
    assert.doesNotThrow(() => accessSync(FAKE_CLAUDE, constants.X_OK), `${FAKE_CLAUDE} should be executable`);
    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-openai-'));
    const workspace = join(tmp, 'workspace');
    mkdirSync(workspace);
    ({ child: service, baseUrl } = await startService({
      binary,
      cwd: tmp,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: tmp,
        API_BEARER_TOKEN: TOKEN,
        CLAUDE_BIN: FAKE_CLAUDE,
        WORKSPACE_DIR: workspace,
        GIT_SYNC: 'off',
        // This suite checks that a cancelled run leaves no process behind ("no descendants
        // once idle"); a CLI started ahead for the next run would be one. The warm CLI, and
        // shutdown with one waiting, are covered by warm-cli.test.mjs with the real CLI.
        WARM_CLI: 'off',
        OPENAI_TIMEOUT_SECONDS: '60',
        KILL_GRACE_MS: '500',
        SSE_KEEPALIVE_MS: '200', // so a silent run sends ": keep-alive" comments the client must skip
      },
    }));
  }, { timeout: 30_000 });

  // Each test starts with the slot free; a run left behind would fail the next one with 503.
  afterEach(async () => {
    if (serviceStopped || !service) return;
    const idle = await timeUntilIdle(baseUrl, 5_000);
    assert.ok(idle !== null, `the service is still busy 5 s after the test\n${diagnostics()}`);
  });

  after(async () => {
    if (service && !serviceStopped) await stopChild(service, STOP_TIMEOUT_MS);
    killAll();
    if (tmp) {
      if (process.env.CAS_E2E_KEEP === '1') {
        if (service) writeFileSync(join(tmp, 'service.log'), service.log.join('\n') + '\n');
        process.stderr.write(`kept ${tmp} (workspace, service.log)\n`);
      } else rmSync(tmp, { recursive: true, force: true });
    }
  }, { timeout: 30_000 });

  test('a non-streamed completion has the content, finish_reason "stop" and the CLI\'s usage', async () => {
    const completion = await client().chat.completions.create({
      model: 'claude-haiku-4-5',
      messages: user(`hello\nFAKE:text=${ANSWER}`),
    });
    const shown = JSON.stringify(completion);
    assert.equal(completion.object, 'chat.completion', shown);
    assert.match(completion.id, /^chatcmpl-/, shown);
    assert.equal(completion.model, 'claude-haiku-4-5', shown);
    assert.equal(completion.choices.length, 1, shown);
    assert.equal(completion.choices[0].message.role, 'assistant', shown);
    assert.equal(completion.choices[0].message.content, ANSWER, shown);
    assert.equal(completion.choices[0].finish_reason, 'stop', shown);
    assert.deepEqual(completion.usage, FAKE_USAGE, shown);
  });

  test('a streamed completion: role chunk, deltas equal to the non-streamed content, one stop, usage', async () => {
    const request = { model: 'claude-sonnet-4-6', messages: user(`stream me\nFAKE:text=${ANSWER}`) };
    const whole = await client().chat.completions.create(request);
    const expected = whole.choices[0].message.content;
    assert.equal(expected, ANSWER);

    const stream = await client().chat.completions.create({
      ...request, stream: true, stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    const shown = JSON.stringify(chunks, null, 1);
    assert.equal(streamedText(chunks), expected, `streamed deltas should equal the non-streamed content: ${shown}`);
    const contentChunks = chunks.filter((c) => c.choices?.[0]?.delta?.content);
    assert.ok(contentChunks.length >= Math.ceil(ANSWER.length / 8),
      `the answer should arrive as several deltas (the fake sends 8 characters each), got ${contentChunks.length}`);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant', `first chunk: ${JSON.stringify(chunks[0])}`);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk', JSON.stringify(c));
      assert.equal(c.id, chunks[0].id, `all chunks should share one id: ${shown}`);
      assert.equal(c.model, 'claude-sonnet-4-6', JSON.stringify(c));
    }
    const finishes = chunks.filter((c) => c.choices?.[0]?.finish_reason != null);
    assert.deepEqual(finishes.map((c) => c.choices[0].finish_reason), ['stop'],
      `exactly one chunk should have a finish_reason, "stop": ${shown}`);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], `the last chunk should have empty choices: ${JSON.stringify(last)}`);
    assert.equal(last.usage?.total_tokens, 36, `the last chunk's usage: ${JSON.stringify(last)}`);
    assert.deepEqual(last.usage, FAKE_USAGE, `the last chunk's usage: ${JSON.stringify(last)}`);
    assert.ok(chunks.indexOf(finishes[0]) < chunks.length - 1, 'the finish chunk should come before the usage chunk');
  });

  test('a streamed completion without include_usage has no usage chunk; keep-alives are skipped', async () => {
    const stream = await client().chat.completions.create({
      model: 'claude-haiku-4-5', messages: user(`no usage\nFAKE:sleep=0.5\nFAKE:text=${ANSWER}`), stream: true,
    });
    const chunks = await collect(stream);
    assert.equal(streamedText(chunks), ANSWER);
    assert.ok(chunks.every((c) => c.choices.length === 1 && !c.usage), JSON.stringify(chunks));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop', JSON.stringify(chunks.at(-1)));
  });

  test('raw SSE: text/event-stream, every event ends with a blank line, body ends with [DONE]', async () => {
    // The fake is silent for 0.5 s first, so keep-alive comments (every 200 ms) come too.
    const res = await postCompletion({
      model: 'claude-haiku-4-5', messages: user(`raw\nFAKE:sleep=0.5\nFAKE:text=${ANSWER}`),
      stream: true, stream_options: { include_usage: true },
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/,
      `content-type: ${res.headers.get('content-type')}`);
    assert.ok(body.endsWith('data: [DONE]\n\n'), `body should end with "data: [DONE]\\n\\n": ${JSON.stringify(body.slice(-80))}`);
    assert.ok(!body.includes('\r'), 'events should use LF line ends');
    const events = body.split('\n\n');
    assert.equal(events.pop(), '', 'the body should end with a blank line');
    const data = [];
    let comments = 0;
    for (const event of events) {
      assert.ok(event.length > 0, `no empty event (three newlines in a row): ${JSON.stringify(body)}`);
      for (const line of event.split('\n')) {
        assert.match(line, /^(data: |:)/, `each line is "data: ..." or a comment: ${JSON.stringify(event)}`);
        if (line.startsWith('data: ')) data.push(line.slice(6));
        else comments++;
      }
    }
    assert.ok(comments >= 1, `a silent run should send keep-alive comments: ${JSON.stringify(body.slice(0, 300))}`);
    assert.equal(JSON.parse(events[0].slice(6)).choices?.[0]?.delta?.role, 'assistant',
      `the role chunk should come first, before any keep-alive: ${JSON.stringify(events[0])}`);
    assert.equal(data.at(-1), '[DONE]');
    assert.equal(data.filter((d) => d === '[DONE]').length, 1, 'exactly one [DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.equal(streamedText(chunks), ANSWER);
    assert.deepEqual(chunks.at(-1).usage, FAKE_USAGE);
  });

  test('models.list() gives the three models; retrieve works; an unknown id is NotFoundError', async () => {
    const page = await client().models.list();
    const ids = [];
    for await (const model of page) {
      assert.equal(model.object, 'model', JSON.stringify(model));
      assert.equal(typeof model.created, 'number', JSON.stringify(model));
      assert.equal(typeof model.owned_by, 'string', JSON.stringify(model));
      ids.push(model.id);
    }
    assert.deepEqual(ids.toSorted(), MODELS.toSorted());

    const haiku = await client().models.retrieve('claude-haiku-4-5');
    assert.equal(haiku.id, 'claude-haiku-4-5', JSON.stringify(haiku));
    assert.equal(haiku.object, 'model', JSON.stringify(haiku));

    await assert.rejects(client().models.retrieve('nope'), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      assert.ok(err.message.includes('nope'), err.message);
      return true;
    });
  });

  test('an unsupported model is BadRequestError naming the model and the supported list', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'gpt-4o', messages: user('hello') }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 400);
        assert.ok(err.message.includes('gpt-4o'), `message should name the model: ${err.message}`);
        for (const m of MODELS) assert.ok(err.message.includes(m), `message should list ${m}: ${err.message}`);
        assert.equal(err.param, 'model', JSON.stringify(err.error));
        assert.equal(err.type, 'invalid_request_error', JSON.stringify(err.error));
        assert.deepEqual(err.error?.supported, MODELS, JSON.stringify(err.error));
        return true;
      },
    );
    assert.equal(await isBusy(baseUrl), false, 'a rejected request must not take the slot');
  });

  test('a wrong API key is AuthenticationError with type authentication_error', async () => {
    const wrong = client({ apiKey: 'not-the-token' });
    for (const call of [
      () => wrong.chat.completions.create({ model: 'claude-haiku-4-5', messages: user('hello') }),
      () => wrong.models.list(),
    ]) {
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError,
          `expected AuthenticationError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 401);
        assert.equal(err.type, 'authentication_error', JSON.stringify(err.error));
        assert.equal(err.headers?.get('www-authenticate'), 'Bearer');
        return true;
      });
    }
  });

  for (const how of ['AbortController signal', 'break out of for-await']) {
    test(`a streamed completion whose client leaves (${how}) is cancelled within 1 s`, async (t) => {
      const controller = new AbortController();
      const stream = await client().chat.completions.create({
        model: 'claude-haiku-4-5', messages: user('x\nFAKE:sleep=30'), stream: true,
      }, how.startsWith('AbortController') ? { signal: controller.signal } : {});
      let abortedAt;
      let first;
      if (how.startsWith('AbortController')) {
        const it = stream[Symbol.asyncIterator]();
        first = (await it.next()).value;
        assert.equal(await isBusy(baseUrl), true, 'busy while the run goes on');
        await waitForFakeClaude();
        abortedAt = Date.now();
        controller.abort();
        // The SDK ends the iteration quietly or with an abort error; either is fine.
        await it.next().catch((err) => {
          assert.ok(err instanceof OpenAI.APIUserAbortError || err?.name === 'AbortError', `${err}`);
        });
      } else {
        for await (const chunk of stream) {
          first = chunk;
          assert.equal(await isBusy(baseUrl), true, 'busy while the run goes on');
          await waitForFakeClaude();
          abortedAt = Date.now();
          break; // the SDK aborts the request
        }
      }
      assert.equal(first?.choices?.[0]?.delta?.role, 'assistant', `first chunk: ${JSON.stringify(first)}`);
      const ms = await assertRunCancelled(abortedAt, `stream (${how})`);
      t.diagnostic(`idle ${ms} ms after the abort`);
    });
  }

  test('a non-streamed completion whose client leaves after 300 ms is cancelled within 1 s', async (t) => {
    const controller = new AbortController();
    const pending = client().chat.completions.create(
      { model: 'claude-haiku-4-5', messages: user('x\nFAKE:sleep=30') },
      { signal: controller.signal },
    );
    pending.catch(() => {}); // observed below
    await sleep(300);
    assert.equal(await isBusy(baseUrl), true, 'busy while the run goes on');
    await waitForFakeClaude();
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(pending, (err) => {
      assert.ok(err instanceof OpenAI.APIUserAbortError, `expected APIUserAbortError, got ${err?.constructor?.name}: ${err}`);
      return true;
    });
    const ms = await assertRunCancelled(abortedAt, 'non-streamed');
    t.diagnostic(`idle ${ms} ms after the abort`);
  });

  test('while a completion runs, another gets 503 with Retry-After', async () => {
    const stream = await client().chat.completions.create({
      model: 'claude-haiku-4-5', messages: user('first\nFAKE:sleep=2\nFAKE:text=first run done'), stream: true,
    });
    // The slot is taken before the response starts, so it is held now.
    assert.equal(await isBusy(baseUrl), true, 'busy while the first run goes on');
    await assert.rejects(
      client().chat.completions.create({ model: 'claude-haiku-4-5', messages: user('second') }),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err?.constructor?.name}: ${err}`);
        assert.ok(err instanceof OpenAI.InternalServerError, `the SDK maps 503 to InternalServerError: ${err?.constructor?.name}`);
        assert.equal(err.status, 503, err.message);
        assert.ok(err.message.includes('busy'), err.message);
        assert.ok(err.headers?.get('retry-after'), 'the SDK error should carry the Retry-After header');
        return true;
      },
    );
    for (const stream of [false, true]) {
      const res = await postCompletion({ model: 'claude-haiku-4-5', messages: user('third'), stream });
      const body = await res.text();
      assert.equal(res.status, 503, `stream=${stream}: ${body}`);
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, `stream=${stream}: Retry-After should be seconds`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, `stream=${stream}`);
      assert.equal(JSON.parse(body).error?.type, 'server_error', body);
    }
    const chunks = await collect(stream);
    assert.equal(streamedText(chunks), 'first run done', 'the first run is not disturbed');
  });

  test('a run that fails mid-stream makes the SDK\'s iteration throw with the CLI\'s reason', async (t) => {
    const stream = await client().chat.completions.create({
      model: 'claude-haiku-4-5', messages: user('x\nFAKE:is-error'), stream: true,
    });
    const chunks = [];
    await assert.rejects(
      (async () => { for await (const chunk of stream) chunks.push(chunk); })(),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err?.constructor?.name}: ${err}`);
        assert.ok(err.message.includes('API Error'), `message should carry the CLI's reason: ${err.message}`);
        assert.equal(err.type, 'server_error', JSON.stringify(err.error));
        t.diagnostic(`${err.constructor.name}: ${err.message}`);
        return true;
      },
    );
    assert.equal(chunks[0]?.choices?.[0]?.delta?.role, 'assistant', 'the stream had begun');
    assert.ok(chunks.every((c) => c.choices?.[0]?.finish_reason == null), `no finish_reason before an error: ${JSON.stringify(chunks)}`);
  });

  test('a run that fails without streaming is 503 InternalServerError with the CLI\'s reason', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'claude-haiku-4-5', messages: user('x\nFAKE:is-error') }),
      (err) => {
        assert.ok(err instanceof OpenAI.InternalServerError, `expected InternalServerError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 503);
        assert.ok(err.message.includes('API Error'), err.message);
        return true;
      },
    );
  });

  test('SIGTERM stops the service with exit code 0', { timeout: STOP_TIMEOUT_MS + 5_000 }, async () => {
    assert.deepEqual(serviceDescendants(), [], 'no process of an earlier run is left');
    const result = await stopChild(service, STOP_TIMEOUT_MS);
    serviceStopped = true;
    assert.ok(result, `service did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${tail(service)}`);
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null }, tail(service));
  });
});
