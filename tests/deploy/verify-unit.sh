#!/usr/bin/env bash
# Checks deploy/claude-agent-service.service. Usage: verify-unit.sh SERVICE_BINARY [UNIT_FILE]
#
# 1. `systemd-analyze verify` on a copy whose ExecStart points at SERVICE_BINARY (verify
#    insists that ExecStart's program exists; User=, EnvironmentFile= and the directories
#    are not checked, so nothing has to be installed). Fails when verify exits non-zero or
#    prints any line naming the unit: systemd 252 reports unknown keys, unparsable values and
#    unknown sections as "..., ignoring" warnings and still exits 0. Lines about other units
#    (the host's own, loaded as dependencies) are shown but do not fail the check.
#    --man=no: the unit has no man: links, and the check must not depend on man-db.
# 2. Every Environment= name is a setting of the binary (from --help) or an allowed extra, and
#    the binary accepts the values (it parses the environment before acting on --version).
# 3. TimeoutStopSec exceeds SHUTDOWN_GRACE + KILL_GRACE_MS; User= is set and is not root, or,
#    with AGENT_USER (the confined unit), the capability bounding set keeps what switching users
#    takes and not CAP_SYS_ADMIN; RestartPreventExitStatus includes 2 (bad configuration).
set -euo pipefail

die() { echo "verify-unit: FAIL: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 SERVICE_BINARY [UNIT_FILE]" >&2; exit 2; }
binary=$1
unit=${2:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/claude-agent-service.service"}
[[ -x "$binary" ]] || die "service binary '$binary' is not executable"
binary=$(readlink -f "$binary")  # ExecStart= needs an absolute path
[[ -r "$unit" ]] || die "unit file '$unit' is not readable"
# $SYSTEMD_ANALYZE (CTest passes CMake's find_program result, "...-NOTFOUND" if none), else PATH.
analyze=${SYSTEMD_ANALYZE:-$(command -v systemd-analyze || true)}
[[ -n "$analyze" && -x "$analyze" ]] ||
  die "systemd-analyze not found ('$analyze'); install it (Debian: apt-get install systemd) and reconfigure"

name=$(basename "$unit")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Values of a directive in [Service] (last assignment wins in systemd; callers take what they need).
service_values() {
  awk -v key="$1" '
    /^[ \t]*\[/ { in_service = ($0 ~ /^[ \t]*\[Service\][ \t]*$/); next }
    in_service && index($0, key "=") == 1 { print substr($0, length(key) + 2) }' "$unit"
}

# --- 1. systemd-analyze verify -------------------------------------------------------------
[[ $(grep -c '^ExecStart=' "$unit") -eq 1 ]] || die "$name must have exactly one ExecStart= line"
# Replace the program (first word) and keep any arguments.
sed -E "s|^ExecStart=[^ ]+|ExecStart=${binary//|/\\|}|" "$unit" >"$work/$name"

set +e
# Log to the console at info level whatever the caller's environment says, without colour.
output=$(SYSTEMD_LOG_LEVEL=info SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_COLOR=0 \
  "$analyze" verify --man=no "$work/$name" 2>&1)
status=$?
set -e
echo "systemd-analyze verify: exit $status"
if [[ -n "$output" ]]; then printf '%s\n' "$output" | sed 's/^/  | /'; fi
[[ $status -eq 0 ]] || die "systemd-analyze verify exited $status"
if grep -qF "$name" <<<"$output"; then
  die "systemd-analyze verify reported problems in $name (see the lines above)"
fi

# --- 2. Environment= names and values -----------------------------------------------------
# Names the unit may set besides the service's own settings: read by the CLI, not the service.
extra_names=(HOME DISABLE_AUTOUPDATER)
help=$("$binary" --help)
mapfile -t settings < <(sed -nE 's/^  (--[a-z-]+ [A-Z]+|\(no flag\)) +([A-Z_]+)$/\2/p' <<<"$help")
# Settings without a flag are the secrets (config.cpp: "secrets never go on argv").
mapfile -t secrets < <(sed -nE 's/^  \(no flag\) +([A-Z_]+)$/\1/p' <<<"$help")
[[ ${#settings[@]} -ge 10 && ${#secrets[@]} -ge 1 ]] || die "could not read the settings from '$binary --help'"

env_pairs=()
while IFS= read -r assignment; do
  # One KEY=VALUE per line, optionally in double quotes; anything fancier is not parsed here.
  if [[ $assignment =~ ^\"([^\"]*)\"$ ]]; then assignment=${BASH_REMATCH[1]}; fi
  [[ $assignment =~ ^([A-Za-z_][A-Za-z0-9_]*)=([^\"\ ]*)$ ]] ||
    die "Environment=$assignment: write one NAME=value (no spaces or quotes inside) per line"
  key=${BASH_REMATCH[1]}
  known=no
  for s in "${settings[@]}" "${extra_names[@]}"; do [[ $s == "$key" ]] && known=yes; done
  [[ $known == yes ]] || die "Environment=$key is not a setting of the service (see --help) nor one of: ${extra_names[*]}"
  for s in "${secrets[@]}" ANTHROPIC_API_KEY; do
    [[ $s == "$key" ]] && die "$key is a secret: it belongs in the EnvironmentFile, not in Environment="
  done
  env_pairs+=("$key=${BASH_REMATCH[2]}")
done < <(service_values Environment)

if ! check=$(env -i "${env_pairs[@]}" "$binary" --version 2>&1); then
  die "the service rejects the unit's Environment= values: $check"
fi
echo "Environment=: ${#env_pairs[@]} settings, all known and accepted by the binary"

# --- 3. Invariants systemd cannot know ------------------------------------------------------
usec() {  # systemd time span (also SHUTDOWN_GRACE's syntax: 30s, 500ms, 30) -> microseconds
  # Line 2 is "μs: N" ("us: N" in a non-UTF-8 locale), so match the number, not the label.
  "$analyze" timespan "$1" 2>/dev/null | awk '$1 ~ /s:$/ && $1 != "Human:" && $2 ~ /^[0-9]+$/ { print $2 }'
}
env_value() {  # last Environment= value of a name, or the default given
  local v
  v=$(printf '%s\n' "${env_pairs[@]}" | sed -n "s/^$1=//p" | tail -n 1)
  echo "${v:-$2}"
}
stop=$(service_values TimeoutStopSec | tail -n 1)
[[ -n $stop ]] || die "TimeoutStopSec= is not set (the default 90s may be changed by the host)"
stop_us=$(usec "$stop")
grace_us=$(usec "$(env_value SHUTDOWN_GRACE 30s)")
kill_us=$(( $(env_value KILL_GRACE_MS 1000) * 1000 ))
[[ -n $stop_us && -n $grace_us ]] || die "could not parse TimeoutStopSec=$stop or SHUTDOWN_GRACE"
(( stop_us > grace_us + kill_us )) ||
  die "TimeoutStopSec=$stop must exceed SHUTDOWN_GRACE + KILL_GRACE_MS, or systemd SIGKILLs a graceful stop"

user=$(service_values User | tail -n 1)
if [[ -n $(env_value AGENT_USER "") ]]; then
  # The confined setup: the service switches the agent to AGENT_USER, which takes root or
  # capabilities; the bounding set must keep those and little else.
  [[ -n $user ]] || die "User= must be set"
  bounding=$(service_values CapabilityBoundingSet | tail -n 1)
  for cap in CAP_SETUID CAP_SETGID CAP_KILL; do
    grep -qw "$cap" <<<"$bounding" || die "CapabilityBoundingSet= must keep $cap (AGENT_USER needs it)"
  done
  grep -qw CAP_SYS_ADMIN <<<"$bounding" && die "CapabilityBoundingSet= must not keep CAP_SYS_ADMIN"
else
  [[ -n $user && $user != root && $user != 0 ]] || die "User= must name a non-root user (root would need IS_SANDBOX=1)"
fi
service_values RestartPreventExitStatus | grep -qwE '2' ||
  die "RestartPreventExitStatus= must include 2 (bad configuration) so systemd does not restart-loop"

echo "verify-unit: OK: $name"
