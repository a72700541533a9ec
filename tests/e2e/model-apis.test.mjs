// End-to-end: the OpenAI Responses API and the Anthropic Messages API through the clients
// their users run, with the real CLI from this directory's node_modules against
// messages-stub.mjs (STUB_COUNT_TURNS=1: every answer ends with "[user-turns=N]", N the user
// turns the CLI sent, so a continued session shows 2). The official `openai` client's
// responses.create (plain, streamed, previous_response_id), GET/DELETE of a stored response;
// the Vercel AI SDK's default OpenAI provider (which speaks the Responses API) generateText
// and streamText; the official `@anthropic-ai/sdk` messages.create and messages.stream, with
// x-api-key; max_tokens as the CLI's cap on each model call; each API's own error shapes.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/model-apis.test.mjs
//
// Needs `npm ci` in tests/e2e. CAS_E2E_KEEP=1 keeps the temp dir (workspace, stub dumps, logs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import {
  apiRequest, cleanEnv, gitIn, installGuards, killAll, liveChildren, realCliEnv, serviceBinary,
  startService, startStub, stopChild, tail, timeUntilIdle, within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-model-apis-token';
const AGENT = 'recruiter-triage';
const MODEL = 'claude-haiku-4-5';

const SUITE_TIMEOUT_MS = 90_000;
const WATCHDOG_MS = 150_000;
const STARTUP_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

const marker = (what) => `e2e-${what}-${randomBytes(4).toString('hex')}`;
const turnsOf = (text) => Number(/\[user-turns=(\d+)\]\s*$/.exec(text ?? '')?.[1] ?? NaN);

installGuards('model-apis.test.mjs', WATCHDOG_MS);

let tmp;
let home;
let dumpDir;
let stub;
let service;
let baseUrl;

const diagnostics = () => [service, stub].filter(Boolean)
  .map((c) => tail(c, 25, (line) => !line.includes('"method":"GET"'))).join('\n');

const openai = () => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000 });
const anthropic = (options = {}) => new Anthropic({ baseURL: baseUrl, apiKey: TOKEN, maxRetries: 0, timeout: 30_000, ...options });

// The stub's dumped request bodies (one per model call the CLI made), oldest first.
const dumps = () => readdirSync(dumpDir).sort().map((f) => JSON.parse(readFileSync(join(dumpDir, f), 'utf8')));

before(async () => {
  const binary = serviceBinary();
  assert.doesNotThrow(() => accessSync(CLAUDE_BIN, constants.X_OK), `${CLAUDE_BIN} is missing: run \`npm ci\` in ${HERE}`);
  tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-model-apis-'));
  home = join(tmp, 'home');
  dumpDir = join(tmp, 'dump');
  mkdirSync(home);
  mkdirSync(dumpDir);
  ({ stub } = await startStub(STUB, { ...cleanEnv(home), STUB_DUMP_DIR: dumpDir, STUB_COUNT_TURNS: '1' }, STARTUP_TIMEOUT_MS)
    .then(async ({ stub: s, port }) => {
      const workspace = join(tmp, 'workspace');
      mkdirSync(join(workspace, '.claude', 'agents'), { recursive: true });
      gitIn(home, tmp, 'init', '-q', '-b', 'main', workspace);
      writeFileSync(join(workspace, '.claude', 'agents', `${AGENT}.md`),
        `---\nname: ${AGENT}\ndescription: Triages a recruiter message.\n---\nYou are the recruiter triage agent.\n`);
      gitIn(home, workspace, 'add', '-A');
      gitIn(home, workspace, 'commit', '-q', '-m', 'agent');
      ({ child: service, baseUrl } = await startService({
        binary,
        cwd: tmp,
        startupMs: STARTUP_TIMEOUT_MS,
        env: {
          ...realCliEnv(home, port),
          API_BEARER_TOKEN: TOKEN,
          WORKSPACE_DIR: workspace,
          DATA_DIR: join(tmp, 'data'),
          CLAUDE_BIN,
          OPENAI_AGENT: AGENT,
          OPENAI_MODELS: `${MODEL},claude-sonnet-4-6`,
          OPENAI_DEFAULT_MODEL: MODEL,
          KILL_GRACE_MS: '500',
          GIT_SYNC: 'off',
        },
      }));
      return { stub: s };
    }));
}, { timeout: 30_000 });

after(async () => {
  if (service) await stopChild(service, STOP_TIMEOUT_MS);
  if (stub) stub.proc.kill('SIGTERM');
  await within(Promise.all(liveChildren().map((c) => c.exited)), 5_000);
  killAll();
  if (tmp) {
    if (process.env.CAS_E2E_KEEP === '1') {
      if (service) writeFileSync(join(tmp, 'service.log'), service.log.join('\n') + '\n');
      if (stub) writeFileSync(join(tmp, 'stub.log'), stub.log.join('\n') + '\n');
      process.stderr.write(`kept ${tmp}\n`);
    } else rmSync(tmp, { recursive: true, force: true });
  }
}, { timeout: 30_000 });

describe('the OpenAI Responses API with the official openai client', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('responses.create: a completed response with the answer, usage, stored for GET, removed by DELETE', async () => {
    const mark = marker('responses');
    const response = await openai().responses.create({ model: MODEL, input: `${mark}: hello`, instructions: 'Be brief.' });
    const shown = `${JSON.stringify(response)}\n${diagnostics()}`;
    assert.match(response.id, /^resp_[0-9a-f]+$/, shown);
    assert.equal(response.object, 'response', shown);
    assert.equal(response.status, 'completed', shown);
    assert.equal(response.model, MODEL, shown);
    // With instructions, the stub's 60-character echo ends before the marker.
    assert.ok(response.output_text.startsWith('STUB-REPLY: System instructions:\nBe brief.'), `the stub's answer: ${shown}`);
    assert.equal(turnsOf(response.output_text), 1, shown);
    const [item] = response.output;
    assert.equal(item.type, 'message', shown);
    assert.equal(item.role, 'assistant', shown);
    assert.deepEqual(item.content[0].annotations, [], shown);
    assert.ok(response.usage.input_tokens > 0 && response.usage.output_tokens > 0, shown);
    assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens, shown);
    assert.equal(typeof response.usage.input_tokens_details.cached_tokens, 'number', shown);
    // The instructions reached the CLI's prompt.
    const prompt = JSON.stringify(dumps().at(-1).messages);
    assert.ok(prompt.includes('Be brief.') && prompt.includes(mark), `the model call carries instructions and input: ${prompt.slice(0, 2000)}`);

    const stored = await openai().responses.retrieve(response.id);
    assert.deepEqual(stored, response, 'GET /v1/responses/{id} returns the stored response');
    const deleted = await apiRequest(baseUrl, TOKEN, 'DELETE', `/v1/responses/${response.id}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.json, { id: response.id, object: 'response', deleted: true });
    await assert.rejects(openai().responses.retrieve(response.id), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err?.constructor?.name}: ${err}`);
      return true;
    });
  });

  test('responses.create with stream: true: typed events in order, deltas that add up, response.completed', async () => {
    const mark = marker('responses-stream');
    const stream = await openai().responses.create({ model: MODEL, input: [{ role: 'user', content: [{ type: 'input_text', text: `${mark}: hi` }] }], stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    const shown = `${types.join(' ')}\n${diagnostics()}`;
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'], shown);
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed'], shown);
    assert.ok(types.includes('response.output_text.delta'), shown);
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers 0, 1, 2, ...');
    const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    const done = events.at(-1).response;
    assert.ok(text.includes(mark), shown);
    assert.equal(done.output[0].content[0].text, text, 'the deltas add up to the final text');
    assert.equal(events.find((e) => e.type === 'response.output_text.done').text, text);
    assert.equal(done.status, 'completed');
    assert.ok(done.usage.output_tokens > 0);
    const stored = await openai().responses.retrieve(done.id);
    assert.equal(stored.output[0].content[0].text, text, 'a streamed response is stored too');
  });

  test('previous_response_id continues the CLI session; store: false is not kept', async () => {
    const first = await openai().responses.create({ model: MODEL, input: `${marker('first')}: remember this` });
    assert.equal(turnsOf(first.output_text), 1, `${first.output_text}\n${diagnostics()}`);
    const mark = marker('second');
    const second = await openai().responses.create({ model: MODEL, input: `${mark}: and now?`, previous_response_id: first.id, store: false });
    assert.ok(second.output_text.includes(mark), second.output_text);
    assert.equal(turnsOf(second.output_text), 2, `the second turn is answered in the first's session: ${second.output_text}\n${diagnostics()}`);
    assert.equal(second.previous_response_id, first.id);
    await assert.rejects(openai().responses.retrieve(second.id), OpenAI.NotFoundError);
    await assert.rejects(
      openai().responses.create({ model: MODEL, input: 'x', previous_response_id: 'resp_0000' }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `${err?.constructor?.name}: ${err}`);
        assert.equal(err.param, 'previous_response_id');
        return true;
      });
  });

  test('an unsupported model is BadRequestError model_not_found; tools are refused by name', async () => {
    await assert.rejects(openai().responses.create({ model: 'gpt-4o', input: 'x' }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.param, 'model');
      return true;
    });
    await assert.rejects(openai().responses.create({ model: MODEL, input: 'x', tools: [{ type: 'web_search' }] }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.param, 'tools');
      return true;
    });
  });
});

describe('busy and gone, with the real CLI (the stub holds its answer: STUB-HOLD)', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('while a response streams, responses get 503 server_error and messages 529 overloaded_error', async () => {
    const stream = await openai().responses.create({ model: MODEL, input: 'hold STUB-HOLD=2500', stream: true });
    const events = [];
    const drained = (async () => { for await (const event of stream) events.push(event); })();
    await assert.rejects(openai().responses.create({ model: MODEL, input: 'second' }), (err) => {
      assert.ok(err instanceof OpenAI.InternalServerError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 503);
      assert.equal(err.error?.type, 'server_error');
      assert.match(err.headers?.get('retry-after') ?? '', /^\d+$/);
      return true;
    });
    await assert.rejects(anthropic().messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'second' }] }), (err) => {
      assert.equal(err.status, 529, `${err}`);
      assert.equal(err.error?.error?.type, 'overloaded_error');
      assert.match(err.headers?.get('retry-after') ?? '', /^\d+$/);
      return true;
    });
    await drained;
    assert.equal(events.at(-1)?.type, 'response.completed', 'the first run is not disturbed');
  });

  test('a responses stream left after its first event frees the slot within a second', async (t) => {
    const stream = await openai().responses.create({ model: MODEL, input: 'hold STUB-HOLD=30000', stream: true });
    let leftAt;
    for await (const event of stream) {
      assert.equal(event.type, 'response.created');
      leftAt = Date.now();
      break;
    }
    const idle = await timeUntilIdle(baseUrl, 1_000, leftAt);
    assert.notEqual(idle, null, `still busy a second after the client left\n${diagnostics()}`);
    t.diagnostic(`idle ${idle} ms after the client left`);
  });

  test('a messages stream aborted mid-way frees the slot within a second', async (t) => {
    const controller = new AbortController();
    const stream = anthropic().messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hold STUB-HOLD=30000' }] },
      { signal: controller.signal });
    stream.on('error', () => {});
    await new Promise((resolve) => stream.on('streamEvent', (event) => { if (event.type === 'message_start') resolve(); }));
    const leftAt = Date.now();
    controller.abort();
    await stream.done().catch(() => {}); // the SDK ends the stream with APIUserAbortError
    const idle = await timeUntilIdle(baseUrl, 1_000, leftAt);
    assert.notEqual(idle, null, `still busy a second after the client left\n${diagnostics()}`);
    t.diagnostic(`idle ${idle} ms after the abort`);
  });
});

describe('the Vercel AI SDK default OpenAI provider (Responses API)', { timeout: SUITE_TIMEOUT_MS }, () => {
  const provider = () => createOpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN });

  test('generateText', async () => {
    const mark = marker('ai-generate');
    const result = await generateText({ model: provider()(MODEL), prompt: `${mark}: hello`, maxRetries: 0 });
    assert.ok(result.text.includes(mark), `${result.text}\n${diagnostics()}`);
    assert.equal(result.finishReason, 'stop');
    assert.ok(result.usage.outputTokens > 0, JSON.stringify(result.usage));
  });

  test('a second generateText with the first one\'s response messages (item_reference) continues its session', async () => {
    const opening = { role: 'user', content: `${marker('ai-first')}: one` };
    const first = await generateText({ model: provider()(MODEL), messages: [opening], maxRetries: 0 });
    assert.equal(turnsOf(first.text), 1, first.text);
    const before = dumps().length;
    const mark = marker('ai-second');
    const second = await generateText({
      model: provider()(MODEL), maxRetries: 0,
      messages: [opening, ...first.response.messages, { role: 'user', content: `${mark}: two` }],
    });
    assert.ok(second.text.includes(mark), `${second.text}\n${diagnostics()}`);
    assert.equal(turnsOf(second.text), 2, `answered in the first's session: ${second.text}\n${diagnostics()}`);
    assert.ok(dumps().length > before);
  });

  test('streamText', async () => {
    const mark = marker('ai-stream');
    const result = streamText({ model: provider()(MODEL), system: 'Be brief.', prompt: `${mark}: hello`, maxRetries: 0 });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    assert.ok(text.startsWith('STUB-REPLY: System instructions:\nBe brief.'), `${text}\n${diagnostics()}`);
    assert.ok(JSON.stringify(dumps().at(-1).messages).includes(mark), 'the model call carries the prompt');
    assert.equal(await result.finishReason, 'stop');
    assert.ok((await result.usage).outputTokens > 0);
  });
});

describe('the Anthropic Messages API with the official @anthropic-ai/sdk', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('messages.create with x-api-key: the answer, stop_reason, usage; max_tokens caps each model call', async () => {
    const mark = marker('messages');
    const before = dumps().length;
    const message = await anthropic().messages.create({
      model: MODEL, max_tokens: 321, system: 'Be brief.', messages: [{ role: 'user', content: `${mark}: hello` }],
    });
    const shown = `${JSON.stringify(message)}\n${diagnostics()}`;
    assert.match(message.id, /^msg_[0-9a-f]+$/, shown);
    assert.equal(message.type, 'message', shown);
    assert.equal(message.role, 'assistant', shown);
    assert.equal(message.content[0].type, 'text', shown);
    assert.ok(message.content[0].text.startsWith('STUB-REPLY: System instructions:\nBe brief.'), shown);
    assert.ok(JSON.stringify(dumps().at(-1).messages).includes(mark), 'the model call carries the message');
    assert.equal(message.stop_reason, 'end_turn', shown);
    for (const field of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens']) {
      assert.equal(typeof message.usage[field], 'number', `${field}: ${shown}`);
    }
    const calls = dumps().slice(before).filter((d) => d.model);
    assert.ok(calls.length > 0 && calls.every((d) => d.max_tokens === 321), `every model call of the run had max_tokens 321: ${calls.map((d) => d.max_tokens)}`);
  });

  test('messages.stream: text events that add up, the final message with usage', async () => {
    const mark = marker('messages-stream');
    const stream = anthropic().messages.stream({ model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content: [{ type: 'text', text: `${mark}: hi` }] }] });
    let text = '';
    stream.on('text', (piece) => { text += piece; });
    const final = await stream.finalMessage();
    assert.ok(text.includes(mark), `${text}\n${diagnostics()}`);
    assert.equal(final.content[0].text, text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0 && final.usage.input_tokens > 0, JSON.stringify(final.usage));
  });

  test('a conversation re-sent with its answer continues the CLI session', async () => {
    const opening = { role: 'user', content: `${marker('a')}: one` };
    const first = await anthropic().messages.create({ model: MODEL, max_tokens: 1024, messages: [opening] });
    assert.equal(turnsOf(first.content[0].text), 1, JSON.stringify(first));
    const mark = marker('b');
    const second = await anthropic().messages.create({
      model: MODEL, max_tokens: 1024,
      messages: [opening, { role: 'assistant', content: first.content[0].text }, { role: 'user', content: `${mark}: two` }],
    });
    assert.ok(second.content[0].text.includes(mark), JSON.stringify(second));
    assert.equal(turnsOf(second.content[0].text), 2, `answered in the first's session: ${JSON.stringify(second)}\n${diagnostics()}`);
  });

  test('bearer token works too; a wrong x-api-key is AuthenticationError in Anthropic\'s shape', async () => {
    const viaBearer = await anthropic({ apiKey: null, authToken: TOKEN }).messages.create({
      model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'bearer' }],
    });
    assert.equal(viaBearer.type, 'message');
    await assert.rejects(anthropic({ apiKey: 'wrong' }).messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }), (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.error?.type, 'error');
      assert.equal(err.error?.error?.type, 'authentication_error');
      return true;
    });
  });

  test('an unknown model is NotFoundError not_found_error; an image block is BadRequestError naming it', async () => {
    await assert.rejects(anthropic().messages.create({ model: 'claude-2', max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }), (err) => {
      assert.ok(err instanceof Anthropic.NotFoundError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.error?.error?.type, 'not_found_error');
      assert.ok(err.message.includes('claude-2'), err.message);
      return true;
    });
    await assert.rejects(anthropic().messages.create({
      model: MODEL, max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }],
    }), (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.error?.error?.type, 'invalid_request_error');
      assert.ok(err.message.includes('messages.0.content.1.type'), err.message);
      return true;
    });
  });

  test('the slot is free afterwards', async () => {
    assert.notEqual(await timeUntilIdle(baseUrl, 5_000), null);
  });
});
