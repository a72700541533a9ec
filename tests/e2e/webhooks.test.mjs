// End-to-end: completion webhooks against receivers on loopback (plain HTTP, and HTTPS with a
// test CA made here by the openssl command line), the service running the fake CLI
// (tests/fixtures/fake-claude). Each delivery verifies with the `standardwebhooks` library
// and with an HMAC computed by hand; a receiver that fails twice gets a third attempt with
// the same webhook-id; a redirect is not followed; the last attempt fails the delivery and
// the retry endpoint sends it again; a certificate the CA did not sign is refused; a URL
// outside WEBHOOK_ALLOWED_HOSTS is a 422; and a receiver that is down when the job ends gets
// it after the service has restarted. With replicas sharing PostgreSQL (the server CTest's
// `postgres` fixture started, CAS_TEST_POSTGRES_DIR): each delivery is sent once, and one
// whose replica stopped is sent by another.
//
//   CAS_SERVICE_BINARY=build/dev/claude-agent-service node --test tests/e2e/webhooks.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import {
  installGuards, killAll, serviceBinary, sleep, startChild, startService, stopChild, tail,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE_CLAUDE = join(HERE, '..', 'fixtures', 'fake-claude');
const TOKEN = 'e2e-webhooks-token';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SUITE_TIMEOUT_MS = 100_000;
const POSTGRES_DIR = process.env.CAS_TEST_POSTGRES_DIR;

installGuards('webhooks.test.mjs', 200_000);

let tmp;
let service;
let baseUrl;
const receivers = [];

// ------------------------------------------------------------------ receivers

// A receiver on loopback: records every request; `answer(req)` gives [status, headers] (200).
async function startReceiver({ tls, port = 0, answer = () => [200, {}] } = {}) {
  const receiver = { requests: [], answer };
  const handler = (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      receiver.requests.push({ path: req.url, headers: req.headers, body });
      const [status, headers] = receiver.answer(req);
      res.writeHead(status, headers);
      res.end(status >= 400 ? 'receiver says no' : '');
    });
  };
  receiver.server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise((resolve) => receiver.server.listen(port, '127.0.0.1', resolve));
  receiver.port = receiver.server.address().port;
  receivers.push(receiver);
  return receiver;
}

const stopReceiver = (receiver) => new Promise((resolve) => {
  receiver.server.closeAllConnections?.();
  receiver.server.close(resolve);
});

// A test CA, and a certificate for localhost it signed; and one it did not (self-signed).
function makeCertificates(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cas test CA',
    '-keyout', 'ca.key', '-out', 'ca.pem');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key',
    '-out', 'server.csr');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', 'rogue.key', '-out', 'rogue.pem');
  const read = (name) => readFileSync(join(dir, name));
  return {
    caFile: join(dir, 'ca.pem'),
    signed: { key: read('server.key'), cert: read('server.pem') },
    rogue: { key: read('rogue.key'), cert: read('rogue.pem') },
  };
}

// ------------------------------------------------------------------ the service

const diagnostics = () => (service ? tail(service, 30) : '(service not started)');

function serviceEnv(extra) {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmp,
    API_BEARER_TOKEN: TOKEN,
    CLAUDE_BIN: FAKE_CLAUDE,
    WORKSPACE_DIR: join(tmp, 'workspace'),
    GIT_SYNC: 'off',
    WARM_CLI: 'off',
    QUEUE_DEPTH: '10',
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_TIMEOUT_SECONDS: '5',
    ...extra,
  };
}

async function request(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function submit(base, callbackUrl, prompt = 'hello') {
  const res = await request(base, 'POST', '/execute', { prompt, agent: 'a', callback_url: callbackUrl });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  return res.json.job_id;
}

// The job's record once `ready(record)` holds (polling), or a failure after `ms`.
async function recordWhen(base, id, ready, ms = 15_000) {
  const deadline = Date.now() + ms;
  let record;
  while (Date.now() < deadline) {
    record = (await request(base, 'GET', `/jobs/${id}`)).json;
    if (ready(record)) return record;
    await sleep(50);
  }
  assert.fail(`job ${id}: not as expected within ${ms} ms: ${JSON.stringify(record?.webhook)}\n${diagnostics()}`);
}

const webhookIs = (status) => (record) => record.webhook?.status === status;

// The delivery verifies with the library, and by hand; its payload.
function verified(delivery) {
  const payload = new Webhook(SECRET).verify(delivery.body, delivery.headers);
  const id = delivery.headers['webhook-id'];
  const timestamp = delivery.headers['webhook-timestamp'];
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${delivery.body}`).digest('base64');
  assert.equal(delivery.headers['webhook-signature'], `v1,${expected}`);
  assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, 'webhook-timestamp is now');
  assert.equal(delivery.headers['content-type'], 'application/json');
  return payload;
}

// ------------------------------------------------------------------ tests

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cas-e2e-webhooks-'));
  mkdirSync(join(tmp, 'workspace'));
});

after(async () => {
  for (const receiver of receivers) await stopReceiver(receiver);
  killAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('completion webhooks', { timeout: SUITE_TIMEOUT_MS }, () => {
  let plain;
  let secure;
  let rogue;
  let certificates;

  before(async () => {
    certificates = makeCertificates(tmp);
    plain = await startReceiver();
    secure = await startReceiver({ tls: certificates.signed });
    rogue = await startReceiver({ tls: certificates.rogue });
    ({ child: service, baseUrl } = await startService({
      binary: serviceBinary(),
      cwd: tmp,
      env: serviceEnv({
        DATA_DIR: join(tmp, 'data'),
        // 127.0.0.1 by address (any port); localhost by name, on the two TLS receivers' ports.
        WEBHOOK_ALLOWED_HOSTS: `127.0.0.1,localhost:${secure.port},localhost:${rogue.port}`,
        WEBHOOK_RETRY_BASE_MS: '100',
        WEBHOOK_MAX_ATTEMPTS: '3',
        WEBHOOK_CA_FILE: certificates.caFile,
      }),
    }));
  }, { timeout: 30_000 });

  after(async () => {
    if (service) await stopChild(service, 10_000);
  }, { timeout: 30_000 });

  test('a finished job is posted, signed: it verifies with standardwebhooks and by hand', async () => {
    plain.answer = () => [204, {}];
    const id = await submit(baseUrl, `http://127.0.0.1:${plain.port}/hooks/done?team=1`, 'first');
    const record = await recordWhen(baseUrl, id, webhookIs('delivered'));
    const deliveries = plain.requests.filter((r) => verified(r).data.job_id === id);
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0].path, '/hooks/done?team=1');
    const payload = verified(deliveries[0]);
    assert.equal(payload.type, 'job.finished');
    assert.equal(payload.timestamp, record.finished_at);
    assert.equal(payload.data.status, 'completed');
    assert.equal(payload.data.result, record.result);
    assert.equal(payload.data.output, undefined);
    assert.equal(payload.data.stderr, undefined);
    assert.equal(payload.data.webhook, undefined);
    assert.ok(payload.data.output_bytes > 0);
    assert.equal(deliveries[0].headers['webhook-id'], record.webhook.id);
    assert.match(record.webhook.id, /^msg_[0-9a-f]{24}$/);
    assert.equal(record.webhook.attempts, 1);
    assert.equal(record.webhook.last_status, 204);
    assert.ok(record.webhook.delivered_at);
    // A tampered body does not verify.
    assert.throws(() => new Webhook(SECRET).verify(deliveries[0].body.replace('completed', 'failed'),
      deliveries[0].headers));
  });

  test('https with the test CA: delivered; a certificate it did not sign is refused', async () => {
    const id = await submit(baseUrl, `https://localhost:${secure.port}/tls`);
    await recordWhen(baseUrl, id, webhookIs('delivered'));
    const delivery = secure.requests.find((r) => r.path === '/tls');
    assert.equal(verified(delivery).data.job_id, id);

    const refused = await submit(baseUrl, `https://localhost:${rogue.port}/tls`);
    const record = await recordWhen(baseUrl, refused, webhookIs('failed'));
    assert.equal(rogue.requests.length, 0, 'the rogue server never got the body');
    assert.match(record.webhook.last_error, /certificate|handshake/i);
    assert.equal(record.webhook.last_status, null);
  });

  test('a receiver answering 500 twice, then 200, gets three attempts with one webhook-id', async () => {
    let calls = 0;
    plain.answer = (req) => (req.url === '/flaky' && ++calls <= 2 ? [500, {}] : [200, {}]);
    const id = await submit(baseUrl, `http://127.0.0.1:${plain.port}/flaky`);
    const record = await recordWhen(baseUrl, id, webhookIs('delivered'));
    const attempts = plain.requests.filter((r) => r.path === '/flaky');
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((a) => a.headers['webhook-id'])).size, 1);
    assert.equal(attempts[0].body, attempts[2].body, 'the same message each time');
    for (const attempt of attempts) verified(attempt);
    assert.equal(record.webhook.attempts, 3);
    assert.equal(record.webhook.last_status, 200);
    assert.equal(record.webhook.last_error, null);
  });

  test('a redirect is not followed; the last attempt fails it; the retry endpoint delivers it', async () => {
    plain.answer = (req) => (req.url === '/moved'
      ? [302, { location: `http://127.0.0.1:${plain.port}/elsewhere` }] : [200, {}]);
    const id = await submit(baseUrl, `http://127.0.0.1:${plain.port}/moved`);
    const failed = await recordWhen(baseUrl, id, webhookIs('failed'));
    assert.equal(failed.webhook.attempts, 3);
    assert.equal(failed.webhook.last_status, 302);
    assert.match(failed.webhook.last_error, /redirects are not followed/);
    assert.equal(plain.requests.filter((r) => r.path === '/elsewhere').length, 0);

    assert.equal((await request(baseUrl, 'POST', `/jobs/${id}/webhook/retry`)).status, 202);
    plain.answer = () => [200, {}];
    const delivered = await recordWhen(baseUrl, id, webhookIs('delivered'));
    assert.equal(delivered.webhook.attempts, 1);
    assert.equal(delivered.webhook.id, failed.webhook.id);
    const again = await request(baseUrl, 'POST', `/jobs/${id}/webhook/retry`);
    assert.equal(again.status, 409);
    assert.equal(again.json.webhook_status, 'delivered');
    assert.equal((await request(baseUrl, 'POST', '/jobs/000000000000/webhook/retry')).status, 404);
  });

  test('a callback_url outside WEBHOOK_ALLOWED_HOSTS is a 422 naming the field', async () => {
    for (const url of ['http://10.0.0.1/x', `https://localhost:${plain.port}/x`, 'ftp://127.0.0.1/']) {
      const res = await request(baseUrl, 'POST', '/execute', { prompt: 'p', agent: 'a', callback_url: url });
      assert.equal(res.status, 422, url);
      assert.deepEqual(res.json.detail[0].loc, ['body', 'callback_url']);
    }
  });

  test('metrics count attempts and deliveries; logs name the job and delivery, never the secret', async () => {
    const scrape = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const value = (series) => Number(scrape.match(new RegExp(`^${series} (\\S+)$`, 'm'))?.[1] ?? NaN);
    assert.ok(value('cas_webhook_deliveries_total{outcome="delivered"}') >= 4, scrape);
    assert.ok(value('cas_webhook_deliveries_total{outcome="failed"}') >= 2, scrape);
    assert.ok(value('cas_webhook_attempts_total{result="http_error"}') >= 5, scrape);
    assert.ok(value('cas_webhook_attempts_total{result="network_error"}') >= 1, scrape);
    assert.ok(value('cas_webhook_attempt_duration_seconds_count') >= 10, scrape);
    const lines = service.log.filter((line) => line.startsWith('{') && line.includes('webhook'));
    const delivered = lines.map((line) => JSON.parse(line)).filter((e) => e.msg === 'webhook delivered');
    assert.ok(delivered.length >= 4);
    for (const entry of delivered) {
      assert.match(entry.job_id, /^[0-9a-f]{12}$/);
      assert.match(entry.webhook_id, /^msg_/);
    }
    const secretBytes = SECRET.slice('whsec_'.length);
    assert.ok(!service.log.some((line) => line.includes(secretBytes)), 'the secret is never logged');
  });

  test('a WEBHOOK_CA_FILE that cannot be read stops start-up, naming it', async () => {
    const env = serviceEnv({ DATA_DIR: join(tmp, 'data-ca'), WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_CA_FILE: join(tmp, 'missing.pem') });
    const child = startChild('claude-agent-service (bad CA file)', serviceBinary(), ['--port', '0'], { cwd: tmp, env });
    let stderr = '';
    child.proc.stderr.on('data', (chunk) => { stderr += chunk; });
    const { code } = await child.exited;
    assert.equal(code, 2);
    assert.match(stderr, /WEBHOOK_CA_FILE '.*missing\.pem' cannot be read/);
  });

  test('a receiver down when the job ends gets it after the service restarted', async () => {
    const down = await startReceiver();
    const { port } = down;
    await stopReceiver(down);
    const env = serviceEnv({
      DATA_DIR: join(tmp, 'data-restart'),
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`,
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_MAX_ATTEMPTS: '20',
    });
    let other = await startService({ binary: serviceBinary(), cwd: tmp, env });
    const id = await submit(other.baseUrl, `http://127.0.0.1:${port}/late`);
    const pending = await recordWhen(other.baseUrl, id, (r) => r.webhook?.attempts >= 2);
    assert.equal(pending.webhook.status, 'pending');
    assert.match(pending.webhook.last_error, /connecting/);
    await stopChild(other.child, 10_000);
    other = await startService({ binary: serviceBinary(), cwd: tmp, env });
    try {
      await sleep(300); // the restarted service tries, and the receiver is still down
      const back = await startReceiver({ port });
      const record = await recordWhen(other.baseUrl, id, webhookIs('delivered'), 20_000);
      const deliveries = back.requests.filter((r) => r.path === '/late');
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0].headers['webhook-id'], pending.webhook.id);
      assert.equal(verified(deliveries[0]).data.job_id, id);
      assert.ok(record.webhook.attempts > pending.webhook.attempts);
    } finally {
      await stopChild(other.child, 10_000);
    }
  });
});

describe('completion webhooks from replicas sharing PostgreSQL', { timeout: SUITE_TIMEOUT_MS }, () => {
  const replicas = [];
  let receiver;
  let database;

  before(async () => {
    assert.ok(POSTGRES_DIR, 'CAS_TEST_POSTGRES_DIR must name the test server (ctest sets it)');
    database = `cas_e2e_webhooks_${randomBytes(6).toString('hex')}`;
    execFileSync('createdb', ['-h', POSTGRES_DIR, '-U', 'postgres', database], { stdio: 'pipe' });
    receiver = await startReceiver();
    for (const name of ['r1', 'r2']) {
      replicas.push(await startService({
        binary: serviceBinary(),
        cwd: tmp,
        env: serviceEnv({
          DATABASE_URL: `host=${POSTGRES_DIR} user=postgres dbname=${database}`,
          REPLICA_ID: name,
          DATA_DIR: join(tmp, `data-${name}`),
          WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
          WEBHOOK_RETRY_BASE_MS: '200',
          WEBHOOK_MAX_ATTEMPTS: '30',
        }),
      }));
    }
  }, { timeout: 30_000 });

  after(async () => {
    for (const replica of replicas) await stopChild(replica.child, 10_000);
    if (database) {
      execFileSync('dropdb', ['-h', POSTGRES_DIR, '-U', 'postgres', '--force', '--if-exists', database],
        { stdio: 'pipe' });
    }
  }, { timeout: 30_000 });

  test('two replicas sending from one outbox: every delivery arrives once', async () => {
    receiver.answer = () => [200, {}];
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await submit(replicas[i % 2].baseUrl, `http://127.0.0.1:${receiver.port}/once`, `job ${i}`));
    for (const id of ids) await recordWhen(replicas[1].baseUrl, id, webhookIs('delivered'), 20_000);
    await sleep(500); // a second sender of the same delivery would have sent it by now
    const byJob = new Map();
    for (const r of receiver.requests.filter((req) => req.path === '/once')) {
      const id = verified(r).data.job_id;
      byJob.set(id, (byJob.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...byJob.keys()].sort(), [...ids].sort());
    assert.ok([...byJob.values()].every((n) => n === 1), JSON.stringify([...byJob]));
  });

  test('a delivery whose replica stopped is sent by another', async () => {
    let up = false;
    receiver.answer = (req) => (req.url === '/handover' && !up ? [503, {}] : [200, {}]);
    const id = await submit(replicas[0].baseUrl, `http://127.0.0.1:${receiver.port}/handover`);
    const pending = await recordWhen(replicas[0].baseUrl, id, (r) => r.webhook?.attempts >= 1);
    assert.equal(pending.webhook.status, 'pending');
    await stopChild(replicas[0].child, 10_000);
    replicas.shift();
    up = true;
    const record = await recordWhen(replicas[0].baseUrl, id, webhookIs('delivered'), 20_000);
    const delivered = receiver.requests.filter((r) => r.path === '/handover' && verified(r).data.job_id === id);
    assert.equal(new Set(delivered.map((r) => r.headers['webhook-id'])).size, 1);
    assert.equal(record.webhook.last_status, 200);
  });
});
