// End-to-end: the API description and its page, as the service serves them.
//  - GET /openapi.json is the OpenAPI 3.1 document in docs/ (byte for byte), documents every
//    route the service answers, and marks exactly the routes that want a token as protected;
//  - `redocly lint` (the CLI from tests/e2e/node_modules) passes on it;
//  - GET /docs, rendered by headless Debian chromium, shows the document: a screenshot, and
//    the DOM after the page's script ran.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/docs.test.mjs
//
// Needs `npm ci` in tests/e2e (for @redocly/cli) and /usr/bin/chromium (scripts/install-deps.sh
// --test installs both). The screenshot is kept next to the binary as docs-screenshot.png
// (CAS_DOCS_SCREENSHOT=path to put it elsewhere). CAS_E2E_KEEP=1 keeps the temp dir.
// Registered with CTest as "e2e: OpenAPI document and docs page".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installGuards, killAll, serviceBinary, startService, stopChild, tail } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const OPENAPI_FILE = join(ROOT, 'docs', 'openapi.json');
const HTML_FILE = join(ROOT, 'docs', 'api.html');
const REDOCLY_CONFIG = join(ROOT, 'docs', 'redocly.yaml');
const REDOCLY = join(HERE, 'node_modules', '.bin', 'redocly');
const CHROMIUM = process.env.CAS_CHROMIUM ?? '/usr/bin/chromium';
const FAKE_CLAUDE = join(HERE, '..', 'fixtures', 'fake-claude');
const TOKEN = 'e2e-docs-token';

const SUITE_TIMEOUT_MS = 150_000;
const WATCHDOG_MS = 165_000; // CTest: 180 s
const TOOL_TIMEOUT_MS = 60_000; // one lint or one chromium run
const MIN_SCREENSHOT_BYTES = 20 * 1024;

// Every route of the service: method, path, and whether it wants API_BEARER_TOKEN.
const ROUTES = [
  ['get', '/health', false],
  ['post', '/execute', true],
  ['get', '/jobs', true],
  ['get', '/jobs/{id}', true],
  ['delete', '/jobs/{id}', true],
  ['post', '/jobs/{id}/cancel', true],
  ['get', '/jobs/{id}/events', true],
  ['post', '/jobs/{id}/webhook/retry', true],
  ['post', '/v1/chat/completions', true],
  ['get', '/v1/models', true],
  ['get', '/v1/models/{id}', true],
  ['post', '/v1/responses', true],
  ['get', '/v1/responses/{id}', true],
  ['delete', '/v1/responses/{id}', true],
  ['post', '/v1/messages', true],
  ['get', '/metrics', false], // open unless METRICS_TOKEN is set
  ['get', '/openapi.json', false],
  ['get', '/docs', false],
];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

installGuards('docs.test.mjs', WATCHDOG_MS);

let tmp;
let service;
let baseUrl;
let binary;
const diagnostics = () => (service ? tail(service, 30) : '(service not started)');

// Runs a program to its end (or kills its whole process group after `ms`); resolves with
// { code, signal, stdout, stderr, ms }.
function run(file, args, { env, cwd, ms = TOOL_TIMEOUT_MS } = {}) {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const proc = spawn(file, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, ms);
    const done = (code, signal, error) => {
      clearTimeout(timer);
      // Chromium leaves helper processes in its group only if it crashed; end them too.
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* none left */ }
      resolvePromise({ code, signal, error, timedOut, stdout, stderr, ms: Date.now() - started });
    };
    proc.on('error', (error) => done(null, null, error));
    proc.on('close', (code, signal) => done(code, signal));
  });
}

const show = (r) => `exit=${r.code} signal=${r.signal}${r.timedOut ? ' (timed out)' : ''}` +
  `${r.error ? ` error=${r.error.message}` : ''}\n--- stdout:\n${r.stdout.slice(-4000)}\n--- stderr:\n${r.stderr.slice(-4000)}`;

function chromiumArgs(profile, extra) {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, '--window-size=1280,2000', '--virtual-time-budget=5000',
    ...extra, `${baseUrl}/docs`,
  ];
}
const toolEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, LANG: 'C.UTF-8' });

describe('the OpenAPI document and the docs page', { timeout: SUITE_TIMEOUT_MS }, () => {
  before(async () => {
    binary = serviceBinary();
    tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-docs-'));
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
      },
    }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service) await stopChild(service, 10_000);
    killAll();
    if (tmp) {
      if (process.env.CAS_E2E_KEEP === '1') {
        if (service) writeFileSync(join(tmp, 'service.log'), service.log.join('\n') + '\n');
        process.stderr.write(`kept ${tmp}\n`);
      } else rmSync(tmp, { recursive: true, force: true });
    }
  }, { timeout: 30_000 });

  test('GET /openapi.json is the OpenAPI 3.1 document of docs/, and documents every route', async () => {
    const res = await fetch(`${baseUrl}/openapi.json`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200, diagnostics());
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const text = await res.text();
    assert.equal(text, readFileSync(OPENAPI_FILE, 'utf8'),
      'the service should serve docs/openapi.json byte for byte (rebuild: cmake --build --preset dev)');
    const doc = JSON.parse(text);
    assert.match(doc.openapi, /^3\.1\.\d+$/, `openapi should be 3.1.x, is ${doc.openapi}`);
    assert.ok(doc.info?.title && doc.info?.version, 'info.title and info.version');

    const documented = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        if (!item[method]) continue;
        documented.push(`${method.toUpperCase()} ${path}`);
        assert.ok(item[method].operationId && item[method].summary, `${method} ${path}: operationId and summary`);
      }
    }
    const routes = ROUTES.map(([m, p]) => `${m.toUpperCase()} ${p}`);
    assert.deepEqual([...documented].sort(), [...routes].sort(), 'the document should have exactly the routes');

    const page = await fetch(`${baseUrl}/docs`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(await page.text(), readFileSync(HTML_FILE, 'utf8'), 'GET /docs should serve docs/api.html');
  });

  test('the service answers each documented route, asking for a token exactly where documented', async () => {
    const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
    for (const [method, path, protectedRoute] of ROUTES) {
      const op = doc.paths[path][method];
      const security = op.security ?? doc.security ?? [];
      const open = security.length === 0 || security.some((req) => Object.keys(req).length === 0);
      assert.equal(!open, protectedRoute, `${method} ${path}: documented security ${JSON.stringify(security)}`);
      // No token: a protected route must refuse before doing anything, an open one must answer.
      const url = baseUrl + path.replace('{id}', 'aaaaaaaaaaaa');
      const res = await fetch(url, { method: method.toUpperCase(), signal: AbortSignal.timeout(5_000) });
      const body = await res.text();
      assert.notEqual(res.status, 405, `${method} ${path}: 405 ${body}`);
      assert.ok(!/"(detail|message)":"Not Found"/.test(body), `${method} ${path}: the router does not know it: ${body}`);
      if (protectedRoute) {
        assert.equal(res.status, 401, `${method} ${path} without a token: ${res.status} ${body}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        assert.ok(op.responses['401'], `${method} ${path}: 401 should be documented`);
      } else {
        assert.equal(res.status, 200, `${method} ${path}: ${res.status} ${body}`);
        const documentedType = Object.keys(op.responses['200'].content)[0].split(';')[0];
        assert.equal((res.headers.get('content-type') ?? '').split(';')[0], documentedType, `${method} ${path}`);
      }
    }
  });

  test('redocly lint passes on docs/openapi.json', async (t) => {
    assert.doesNotThrow(() => accessSync(REDOCLY, constants.X_OK),
      `${REDOCLY} is missing: run \`npm ci\` in tests/e2e (or scripts/install-deps.sh --test)`);
    const r = await run(REDOCLY, ['lint', OPENAPI_FILE, '--config', REDOCLY_CONFIG], {
      cwd: ROOT,
      env: { ...toolEnv(), REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' },
    });
    t.diagnostic(`redocly lint took ${r.ms} ms`);
    assert.equal(r.code, 0, `redocly lint failed: ${show(r)}`);
    assert.match(r.stdout + r.stderr, /valid/i, show(r));
  });

  test('GET /docs renders the document in headless chromium', async (t) => {
    assert.doesNotThrow(() => accessSync(CHROMIUM, constants.X_OK),
      `${CHROMIUM} is missing: apt-get install chromium (or scripts/install-deps.sh --test)`);
    const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));

    // The screenshot, written in a temp dir (so a stale one cannot pass) and then kept.
    const shot = join(tmp, 'docs.png');
    const r = await run(CHROMIUM, chromiumArgs(mkdtempSync(join(tmp, 'profile-')), [`--screenshot=${shot}`]),
      { env: toolEnv(), cwd: tmp });
    t.diagnostic(`chromium --screenshot took ${r.ms} ms`);
    assert.ok(existsSync(shot), `chromium wrote no screenshot: ${show(r)}`);
    const png = readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'the screenshot should be a PNG');
    assert.equal(png.readUInt32BE(16), 1280, 'screenshot width');
    assert.equal(png.readUInt32BE(20), 2000, 'screenshot height');
    const size = statSync(shot).size;
    // A blank or "Loading…" page compresses to a few KB; a rendered page is far larger.
    assert.ok(size > MIN_SCREENSHOT_BYTES, `the screenshot is only ${size} bytes: is the page blank?`);
    const kept = process.env.CAS_DOCS_SCREENSHOT ?? join(dirname(binary), 'docs-screenshot.png');
    copyFileSync(shot, kept);
    t.diagnostic(`screenshot (${size} bytes): ${kept}`);

    // The DOM after the script ran: it has what only rendering /openapi.json can put there.
    const d = await run(CHROMIUM, chromiumArgs(mkdtempSync(join(tmp, 'profile-')), ['--dump-dom']),
      { env: toolEnv(), cwd: tmp });
    t.diagnostic(`chromium --dump-dom took ${d.ms} ms`);
    assert.equal(d.code, 0, `chromium --dump-dom failed: ${show(d)}`);
    // Only what the script put in <main> counts (the script's own text is in the DOM too).
    const dom = d.stdout.match(/<main id="app">([\s\S]*)<\/main>/)?.[1] ?? '';
    assert.ok(!dom.includes('class="error"'), `the page could not load /openapi.json: ${dom.slice(0, 500)}`);
    for (const text of ['/v1/chat/completions', '/jobs/{id}/events', '/metrics', doc.info.title,
      'operationId: createChatCompletion', 'ChatCompletionChunk', 'idempotency_key']) {
      assert.ok(dom.includes(text), `the rendered page should contain ${JSON.stringify(text)}`);
    }
    const sections = dom.match(/<section class="op"/g) ?? [];
    assert.equal(sections.length, ROUTES.length, 'one section per operation');
  });
});
