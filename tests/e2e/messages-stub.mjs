#!/usr/bin/env node
// Dependency-free stand-in for the Anthropic Messages API, good enough for the
// real Claude Code CLI (`claude -p`) to run offline against it.
//
//   node messages-stub.mjs [--port 0]     -> prints "LISTENING <port>" on stdout
//
// Reply text: "STUB-REPLY: " + first 60 chars of the last user text (trimmed),
// then " [user-turns=N]" with $STUB_COUNT_TURNS set (see userTurns), or exactly $STUB_REPLY if set. Model "claude-error-400" gets a 400 error.
// A last user text holding "STUB-HOLD=<ms>" is answered that much later (streamed: after
// message_start), so a test can keep a real CLI run busy.
// Tools, for tests of what the model is offered and what it does with them:
//   "STUB-TOOLS" in the last user text: the reply is "STUB-TOOLS: " + the offered tool names,
//   comma-separated, in order.
//   "STUB-WRITE=<name>": the model calls Write for <name> in the working directory the system
//   prompt names, then (given the tool result) answers "STUB-REPLY: wrote <name>".
//   "STUB-BASH=<command>" (to the end of the line): the model calls Bash with <command>,
//   then (given the tool result) answers "STUB-REPLY: ran: " + the result's text.
//   A StructuredOutput tool offered: the model calls it with the object "STUB-STRUCTURED=<json>"
//   names (default {"answer":42}), then answers "STUB-REPLY: structured".
// Every request is logged to stderr as: METHOD PATH model=M stream=S
// If $STUB_DUMP_DIR is set, each request body is saved there as NNN.json.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;

const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const id = (p) => p + randomBytes(12).toString('hex');

// Last text block of the last user message, skipping CLI-injected <system-reminder> blocks.
function lastUserText(messages = []) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content || [];
    for (let j = blocks.length - 1; j >= 0; j--) {
      const b = blocks[j];
      if (b.type === 'text' && !b.text.trimStart().startsWith('<system-reminder>')) return b.text;
    }
  }
  return '';
}

// User turns the request carries: user messages with text of their own (not only tool
// results or CLI-injected <system-reminder> blocks). A resumed session carries its earlier ones.
function userTurns(messages = []) {
  return messages.filter((m) => m.role === 'user' && (typeof m.content === 'string'
    ? !m.content.trimStart().startsWith('<system-reminder>')
    : (m.content || []).some((b) => b.type === 'text' && !b.text.trimStart().startsWith('<system-reminder>')))).length;
}

// Whether the model has called a tool in this conversation already (one call per request).
const calledTool = (body) => (body.messages ?? []).some((m) => m.role === 'assistant' &&
  Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_use'));

// The tool call the model makes for `body`, or null: none once it has made one.
function toolCall(body) {
  if (calledTool(body)) return null;
  const text = lastUserText(body.messages);
  const offered = (body.tools ?? []).map((t) => t.name);
  if (offered.includes('StructuredOutput')) {
    const given = /STUB-STRUCTURED=(\{.*\})/.exec(text)?.[1];
    return { name: 'StructuredOutput', input: given ? JSON.parse(given) : { answer: 42 } };
  }
  const bash = /STUB-BASH=(.*)/.exec(text)?.[1];
  if (bash && offered.includes('Bash')) {
    return { name: 'Bash', input: { command: bash, description: 'Run the command the test gave' } };
  }
  const write = /STUB-WRITE=([\w.-]+)/.exec(text)?.[1];
  if (write && offered.includes('Write')) {
    // The CLI names it in its environment section ("Primary working directory: <path>"), in
    // the system prompt or (this CLI version) a system-role message.
    const dir = /[Ww]orking directory: ([^\s"\\]+)/.exec(JSON.stringify(body))?.[1];
    if (dir) return { name: 'Write', input: { file_path: `${dir}/${write}`, content: 'written by the agent\n' } };
  }
  return null;
}

// The text of the last tool result in the conversation ('' if none).
function lastToolResult(messages = []) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const blocks = Array.isArray(messages[i].content) ? messages[i].content : [];
    const result = blocks.findLast((b) => b.type === 'tool_result');
    if (!result) continue;
    if (typeof result.content === 'string') return result.content;
    return (result.content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('\n');
  }
  return '';
}

function replyText(body) {
  if (calledTool(body)) {
    if (/STUB-BASH=/.test(lastUserText(body.messages))) {
      return 'STUB-REPLY: ran: ' + lastToolResult(body.messages);
    }
    const write = /STUB-WRITE=([\w.-]+)/.exec(lastUserText(body.messages))?.[1];
    return write ? `STUB-REPLY: wrote ${write}` : 'STUB-REPLY: structured';
  }
  if (lastUserText(body.messages).includes('STUB-TOOLS')) {
    return 'STUB-TOOLS: ' + (body.tools ?? []).map((t) => t.name).join(',');
  }
  if (process.env.STUB_REPLY !== undefined) return process.env.STUB_REPLY;
  const turns = process.env.STUB_COUNT_TURNS ? ` [user-turns=${userTurns(body.messages)}]` : '';
  return 'STUB-REPLY: ' + lastUserText(body.messages).trim().slice(0, 60) + turns;
}

// Deterministic but plausible token counts: ~4 bytes/token for the prompt,
// mostly "cached" (75% read, rest created), a small uncached tail.
function usageFor(rawLen, body, text) {
  const total = Math.max(10, Math.ceil(rawLen / 4));
  const input = Math.min(total, 3 + Math.ceil(lastUserText(body.messages).length / 4));
  const rest = total - input;
  const cacheRead = Math.floor(rest * 0.75);
  return {
    input_tokens: input,
    cache_creation_input_tokens: rest - cacheRead,
    cache_read_input_tokens: cacheRead,
    output_tokens: Math.max(1, Math.ceil(text.length / 4)),
    service_tier: 'standard',
  };
}

function sendJson(res, status, obj, rid = id('req_')) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': rid, 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

function apiError(res, status, type, message) {
  const rid = id('req_');
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: rid }, rid);
}

function toolReply(res, body, rawLen, call) {
  const usage = usageFor(rawLen, body, JSON.stringify(call.input));
  const block = { type: 'tool_use', id: id('toolu_stub_'), name: call.name, input: call.input };
  const msg = {
    id: id('msg_stub_'), type: 'message', role: 'assistant', model: body.model,
    content: [block], stop_reason: 'tool_use', stop_sequence: null, usage,
  };
  if (!body.stream) return sendJson(res, 200, msg);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': id('req_') });
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
  ev('content_block_start', { index: 0, content_block: { ...block, input: {} } });
  ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.input) } });
  ev('content_block_stop', { index: 0 });
  ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  ev('message_stop', {});
  res.end();
}

function messageReply(res, body, rawLen) {
  const call = toolCall(body);
  if (call) return toolReply(res, body, rawLen, call);
  const text = replyText(body);
  const usage = usageFor(rawLen, body, text);
  const msg = {
    id: id('msg_stub_'), type: 'message', role: 'assistant', model: body.model,
    content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage,
  };
  if (!body.stream) return setTimeout(() => { if (!res.destroyed) sendJson(res, 200, msg); }, holdMs(body));

  // Server-sent events, same event sequence as the real API.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': id('req_') });
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  ev('ping', {});
  setTimeout(() => {
    if (res.destroyed) return; // the CLI went away while the answer was held
    const n = Math.min(4, Math.max(1, text.length)); // a few deltas
    const step = Math.ceil(text.length / n) || 1;
    for (let i = 0; i < text.length; i += step) {
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: text.slice(i, i + step) } });
    }
    ev('content_block_stop', { index: 0 });
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: usage.input_tokens, cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens, output_tokens: usage.output_tokens },
    });
    ev('message_stop', {});
    res.end();
  }, holdMs(body));
}

const holdMs = (body) => Number(/STUB-HOLD=(\d+)/.exec(lastUserText(body.messages))?.[1] ?? 0);

let dumped = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url, 'http://x').pathname;
    let body = {};
    if (raw) { try { body = JSON.parse(raw); } catch { /* leave {} */ } }
    log(req.method, req.url, `model=${body.model ?? '-'}`, `stream=${body.stream ?? '-'}`);
    if (process.env.STUB_DUMP_DIR) {
      writeFileSync(`${process.env.STUB_DUMP_DIR}/${String(++dumped).padStart(3, '0')}.json`, raw || '{}');
    }

    if (req.method === 'POST' && path === '/v1/messages') {
      if (!raw || typeof body !== 'object' || !Array.isArray(body.messages)) {
        return apiError(res, 400, 'invalid_request_error', 'messages: field required');
      }
      if (body.model === 'claude-error-400') {
        return apiError(res, 400, 'invalid_request_error', 'stub: model claude-error-400 always fails');
      }
      return messageReply(res, body, Buffer.byteLength(raw));
    }
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      return sendJson(res, 200, { input_tokens: Math.max(1, Math.ceil(Buffer.byteLength(raw) / 4)) });
    }
    // Anything else: harmless 404 in Anthropic error shape, logged for investigation.
    log('  (unhandled request, answered 404)');
    return apiError(res, 404, 'not_found_error', `stub: no route for ${req.method} ${path}`);
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
