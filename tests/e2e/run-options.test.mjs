// End-to-end: run options with the real Claude Code CLI against messages-stub.mjs, which lists
// the tools the model was offered (STUB-TOOLS), answers through StructuredOutput when offered,
// and writes a file through Write (STUB-WRITE). The service lets callers set only some options
// (RUN_OPTIONS: all but allowed_tools), so a refusal is checked on the same service.
//
//   CAS_SERVICE_BINARY=build/ci/claude-agent-service node --test tests/e2e/run-options.test.mjs
//
// Registered with CTest as "e2e: run options with the real CLI".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import {
  apiRequest, cleanEnv, gitIn, installGuards, killAll, liveChildren, realCliEnv, serviceBinary, sleep,
  startService, startStub, stopChild, tail, within,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLAUDE_BIN = join(HERE, 'node_modules', '.bin', 'claude');
const STUB = join(HERE, 'messages-stub.mjs');
const TOKEN = 'e2e-token';
const AGENT = 'recruiter-triage';
const SUITE_TIMEOUT_MS = 150_000;

installGuards('run-options.test.mjs', 165_000);

let tmp;
let stub;
let service;
let baseUrl;

const diagnostics = () => [service, stub].filter(Boolean)
  .map((c) => tail(c, 25, (line) => !line.includes('"method":"GET"'))).join('\n');
const api = (method, path, body) => apiRequest(baseUrl, TOKEN, method, path, body);

async function runJob(body) {
  const started = await api('POST', '/execute', { agent: AGENT, ...body });
  assert.equal(started.status, 202, `POST /execute: ${started.text}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await api('GET', `/jobs/${started.json.job_id}`);
    if (job.json.status !== 'running' && job.json.status !== 'queued') return job.json;
    assert.ok(Date.now() < deadline, `job still running: ${job.text}\n${diagnostics()}`);
    await sleep(200);
  }
}

const SCHEMA = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] };

describe('run options with the real CLI', { timeout: SUITE_TIMEOUT_MS }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-options-'));
    const workspace = join(tmp, 'workspace');
    const home = join(tmp, 'home');
    mkdirSync(join(workspace, '.claude', 'agents'), { recursive: true });
    mkdirSync(home);
    writeFileSync(join(workspace, '.claude', 'agents', `${AGENT}.md`),
      ['---', `name: ${AGENT}`, 'description: Answers briefly.', '---', 'Answer briefly.', ''].join('\n'));
    gitIn(home, tmp, 'init', '-q', workspace);
    gitIn(home, workspace, 'add', '-A');
    gitIn(home, workspace, 'commit', '-q', '-m', 'the agent');
    let stubPort;
    ({ stub, port: stubPort } = await startStub(STUB, cleanEnv(home), 15_000));
    ({ child: service, baseUrl } = await startService({
      cwd: tmp,
      binary: serviceBinary(),
      env: {
        ...realCliEnv(home, stubPort),
        API_BEARER_TOKEN: TOKEN,
        WORKSPACE_DIR: workspace,
        CLAUDE_BIN,
        GIT_SYNC: 'off',
        OPENAI_AGENT: AGENT,
        RUN_OPTIONS: 'model,fallback_model,disallowed_tools,max_turns,append_system_prompt,effort,json_schema',
      },
    }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service) await stopChild(service, 10_000);
    if (stub) stub.proc.kill('SIGTERM');
    await within(Promise.all(liveChildren().map((c) => c.exited)), 5_000);
    killAll();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('disallowed_tools: Bash is no longer among the tools the model is offered', { timeout: 60_000 }, async () => {
    const offered = (job) => {
      assert.equal(job.status, 'completed', `${JSON.stringify(job)}\n${diagnostics()}`);
      assert.match(job.result, /^STUB-TOOLS: /, job.result);
      return job.result.slice('STUB-TOOLS: '.length).split(',');
    };
    const all = offered(await runJob({ prompt: 'STUB-TOOLS please' }));
    assert.ok(all.includes('Bash') && all.includes('Read'), `without the option Bash is offered: ${all}`);
    const without = offered(await runJob({ prompt: 'STUB-TOOLS please', disallowed_tools: ['Bash'] }));
    assert.ok(!without.includes('Bash'), `Bash must not be offered: ${without}`);
    assert.ok(without.includes('Read'), `the other tools stay: ${without}`);
  });

  test('json_schema: the record has the structured_output the model answered with', { timeout: 60_000 }, async () => {
    const job = await runJob({ prompt: 'What is the answer?', json_schema: SCHEMA });
    assert.equal(job.status, 'completed', `${JSON.stringify(job)}\n${diagnostics()}`);
    assert.deepEqual(job.structured_output, { answer: 42 });
    assert.deepEqual(job.run_options, { json_schema: SCHEMA });
  });

  test('chat with response_format json_schema answers the object as content, through the openai client', { timeout: 60_000 }, async () => {
    const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
    const completion = await openai.chat.completions.create({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'What is the answer?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: SCHEMA, strict: true } },
    });
    const content = completion.choices[0].message.content;
    assert.deepEqual(JSON.parse(content), { answer: 42 }, `content: ${content}\n${diagnostics()}`);
  });

  test('a run whose agent writes a file lists it in the record\'s changed_files', { timeout: 60_000 }, async () => {
    const job = await runJob({ prompt: 'Write a note. STUB-WRITE=agent-note.txt' });
    assert.equal(job.status, 'completed', `${JSON.stringify(job)}\n${diagnostics()}`);
    assert.equal(job.result, 'STUB-REPLY: wrote agent-note.txt');
    const changed = job.workspace?.changed_files ?? [];
    assert.ok(changed.some((f) => f.path === 'agent-note.txt'), `changed_files: ${JSON.stringify(job.workspace)}`);
    assert.equal(job.workspace.dirty, true);
  });

  test('every option at once: the real CLI takes each --flag=value and the run completes', { timeout: 60_000 }, async () => {
    const job = await runJob({
      prompt: 'all options', model: 'claude-haiku-4-5', fallback_model: 'claude-sonnet-4-6',
      disallowed_tools: ['Bash(rm:*)', 'WebFetch'], max_turns: 3, append_system_prompt: '--verbose\nAnswer in one line.',
      effort: 'low',
    });
    assert.equal(job.status, 'completed', `${JSON.stringify(job)}\n${diagnostics()}`);
    assert.equal(job.result, 'STUB-REPLY: all options');
    assert.ok(stub.log.some((line) => line.includes('model=claude-haiku-4-5')), 'the stub was asked for the model');
  });

  test('RUN_OPTIONS without allowed_tools refuses it with a 422 naming it', async () => {
    const res = await api('POST', '/execute', { agent: AGENT, prompt: 'x', allowed_tools: ['Read'] });
    assert.equal(res.status, 422, res.text);
    assert.deepEqual(res.json.detail.map((d) => d.loc), [['body', 'allowed_tools']]);
    assert.match(res.json.detail[0].msg, /RUN_OPTIONS/);
  });
});
