#!/usr/bin/env bash
# Checks .env.example against the binary's option table. Usage: check-env-example.sh SERVICE_BINARY [ENV_FILE]
# Every setting in `SERVICE_BINARY --help` appears exactly once (as NAME= or #NAME=) with the default
# --help shows ("(empty)" = empty), no other names appear except ANTHROPIC_API_KEY (the CLI's), and the
# binary accepts the whole file with every line uncommented.
set -euo pipefail

die() { echo "check-env-example: FAIL: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 SERVICE_BINARY [ENV_FILE]" >&2; exit 2; }
binary=$1
file=${2:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.env.example"}
[[ -x "$binary" ]] || die "service binary '$binary' is not executable"
[[ -r "$file" ]] || die "'$file' is not readable"

# NAME<TAB>default, from the two-line entries of --help:
#   "  --port N                     PORT" then "      Listen ... (default: 8000)".
declare -A defaults=()
while IFS=$'\t' read -r key value; do
  [[ $value == "(empty)" ]] && value=""
  defaults[$key]=$value
done < <("$binary" --help | awk '
  match($0, /^  (--[a-z-]+ [A-Z]+|\(no flag\)) +[A-Z_]+$/) { key = $NF; next }
  key != "" && match($0, /\(default: .*\)$/) {
    print key "\t" substr($0, RSTART + 10, RLENGTH - 11); key = "" }')
[[ ${#defaults[@]} -ge 10 ]] || die "could not read the settings from '$binary --help'"

declare -A seen=()
env_pairs=()
while IFS= read -r line; do
  [[ $line =~ ^#?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
  key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
  [[ -z ${seen[$key]:-} ]] || die "$key appears twice"
  seen[$key]=1
  if [[ $key == ANTHROPIC_API_KEY ]]; then
    [[ -z $value ]] || die "ANTHROPIC_API_KEY must be left empty"
    continue
  fi
  [[ -n ${defaults[$key]+set} ]] || die "$key is not a setting of the service (see --help)"
  [[ $value == "${defaults[$key]}" ]] || die "$key=$value, but the default is '${defaults[$key]}'"
  env_pairs+=("$key=$value")
done <"$file"

for key in "${!defaults[@]}"; do
  [[ -n ${seen[$key]:-} ]] || die "$key (a setting in --help) is missing"
done
if ! check=$(env -i "${env_pairs[@]}" "$binary" --version 2>&1); then
  die "the service rejects the values: $check"
fi
echo "check-env-example: OK: ${#defaults[@]} settings with their defaults, plus ANTHROPIC_API_KEY"
