#!/usr/bin/env bash
# Runs the real Claude Code CLI offline against messages-stub.mjs, the way
# claude-agent-service invokes it (prompt on stdin, --agent, json + stream-json).
# Exits non-zero if the stub's reply does not come back through the CLI.
# KEEP=1 keeps the temp dir (workspace, HOME, stub log) for inspection.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLAUDE="${CLAUDE:-$HERE/node_modules/.bin/claude}"
TMP="$(mktemp -d /tmp/cli-stub.XXXXXX)"
WS="$TMP/workspace"
STUB_PID=""
cleanup() {
  [[ -n "$STUB_PID" ]] && kill "$STUB_PID" 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# Workspace: a git repo with the agent the service asks for.
mkdir -p "$WS/.claude/agents" "$TMP/home"
git -C "$WS" init -q
cat > "$WS/.claude/agents/recruiter-triage.md" <<'EOF'
---
name: recruiter-triage
description: Triages a recruiter message and drafts a short reply.
---
You are the recruiter triage agent. Classify the message and draft a reply.
EOF

# Start the stub on an ephemeral port and wait for "LISTENING <port>".
node "$HERE/messages-stub.mjs" --port 0 > "$TMP/stub.out" 2> "$TMP/stub.err" &
STUB_PID=$!
for _ in $(seq 50); do grep -q '^LISTENING ' "$TMP/stub.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(awk '/^LISTENING /{print $2}' "$TMP/stub.out")"
[[ -n "$PORT" ]] || { echo "stub did not start"; cat "$TMP/stub.err"; exit 1; }
echo "stub listening on $PORT"

run_claude() { # prompt on stdin; args passed through
  (cd "$WS" && env -i PATH="$PATH" HOME="$TMP/home" \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=stub-key \
    IS_SANDBOX=1 DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    timeout 120 "$CLAUDE" -p --dangerously-skip-permissions --max-budget-usd 5 "$@")
}

PROMPT="Triage this: recruiter offers a C++ role, token e2e-$$"
EXPECT="STUB-REPLY: ${PROMPT:0:60}"
fail=0

echo "=== json mode"
rc=0; out="$(printf '%s' "$PROMPT" | run_claude --agent recruiter-triage --output-format json 2>"$TMP/err1")" || rc=$?
echo "$out"; echo "exit=$rc stderr: $(cat "$TMP/err1")"
if [[ $rc -eq 0 ]] && grep -qF "\"result\":\"$EXPECT\"" <<<"$out"; then echo "OK json"; else echo "FAIL json"; fail=1; fi

echo "=== stream-json mode"
rc=0; out="$(printf '%s' "$PROMPT" | run_claude --agent recruiter-triage --output-format stream-json --verbose --include-partial-messages 2>"$TMP/err2")" || rc=$?
echo "$out"; echo "exit=$rc stderr: $(cat "$TMP/err2")"
if [[ $rc -eq 0 ]] && grep -q '"type":"stream_event"' <<<"$out" && tail -n1 <<<"$out" | grep -qF "\"result\":\"$EXPECT\""; then
  echo "OK stream-json"; else echo "FAIL stream-json"; fail=1; fi

echo "=== API error (model claude-error-400)"
rc=0; out="$(printf 'x' | run_claude --agent recruiter-triage --output-format json --model claude-error-400 2>"$TMP/err3")" || rc=$?
echo "$out"; echo "exit=$rc stderr: $(cat "$TMP/err3")"
if [[ $rc -ne 0 ]] && grep -q '"api_error_status":400' <<<"$out"; then echo "OK api-error"; else echo "FAIL api-error"; fail=1; fi

echo "=== unknown agent"
rc=0; out="$(printf 'x' | run_claude --agent no-such-agent --output-format json 2>"$TMP/err4")" || rc=$?
echo "stdout=[$out] exit=$rc stderr: $(cat "$TMP/err4")"
if [[ $rc -ne 0 ]] && grep -q "not found" "$TMP/err4"; then echo "OK unknown-agent"; else echo "FAIL unknown-agent"; fail=1; fi

echo "=== stub log"; cat "$TMP/stub.err"
[[ $fail -eq 0 ]] && echo "ALL OK" || echo "SOME CHECKS FAILED"
exit $fail
