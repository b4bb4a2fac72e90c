#!/usr/bin/env bash
# Runs the README's grpcurl walkthrough against a fresh identityd, so every
# example there works as written.
#
#   bash .ci/readme.sh path/to/identityd
#
# What runs: every ```sh block between the headings "## Calling it with grpcurl"
# and "## Errors", in order, as one bash script with `set -euo pipefail`.
# ```bash blocks in that part (starting a server, for example) are for readers
# to copy and are not run. The script runs in a fresh directory whose `data/`
# is the server's data dir, with the settings the walkthrough asks for
# (`IDENTITYD__MAIL__TRANSPORT=file`), and `localhost:50051` pointing at the
# server this script started on a free port.
#
# grpcurl is taken from $GRPCURL (set by .ci/run), else from PATH; jq and python3
# must be on PATH.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 1 ]]; then
  echo "usage: $0 path/to/identityd" >&2
  exit 2
fi

BIN=$1
[[ -x "$BIN" ]] || { echo "readme: FAIL: $BIN is not an executable file" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
README=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/README.md

GRPCURL=${GRPCURL:-$(command -v grpcurl || true)}
[[ -n "$GRPCURL" && -x "$GRPCURL" ]] || { echo "readme: FAIL: grpcurl not found (set GRPCURL)" >&2; exit 1; }
command -v jq >/dev/null || { echo "readme: FAIL: jq not found" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/identityd-readme.XXXXXX")
log="$tmp/server.log"
server_pid=""

cleanup() {
  local rc=$?
  set +e
  [[ -n "$server_pid" ]] && stop_server "$server_pid"
  if [[ $rc -ne 0 ]]; then
    echo "readme: failed; last 100 lines of the server log:" >&2
    tail -n 100 "$log" >&2 2>/dev/null
  fi
  if [[ "${README_KEEP_TMP:-}" == 1 ]]; then
    echo "readme: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT

port=$(free_port)
addr="127.0.0.1:$port"

# The walkthrough, extracted: the ```sh blocks of its part of the README.
script="$tmp/walkthrough.sh"
{
  echo 'set -euo pipefail'
  echo 'set -x'
  awk '
    /^## Calling it with grpcurl/ { inside = 1; next }
    /^## / && inside { inside = 0 }
    inside && /^```sh$/ { block = 1; next }
    block && /^```$/ { block = 0; print ""; next }
    block { print }
  ' "$README" | sed "s/localhost:50051/$addr/g"
} >"$script"
blocks=$(awk '/^## Calling it with grpcurl/{i=1;next} /^## /{i=0} i&&/^```sh$/{n++} END{print n+0}' "$README")
[[ "$blocks" -gt 0 ]] || { echo "readme: FAIL: no sh blocks found in the walkthrough" >&2; exit 1; }

collect_identityd_unsets

echo "== readme: starting $BIN serve on $addr in $tmp"
(
  cd "$tmp"
  exec env "${unset_args[@]}" \
    IDENTITYD__SERVER__LISTEN="$addr" \
    IDENTITYD__MAIL__TRANSPORT=file \
    "$BIN" serve </dev/null >"$log" 2>&1
) &
server_pid=$!

for _ in $(seq 120); do
  kill -0 "$server_pid" 2>/dev/null || { echo "readme: FAIL: identityd exited during startup" >&2; exit 1; }
  if [[ -s "$tmp/data/bootstrap-token" ]] && "$GRPCURL" -plaintext -max-time 3 "$addr" list >/dev/null 2>&1; then
    break
  fi
  sleep 0.5
done

echo "== readme: running $blocks sh blocks of the walkthrough"
(
  cd "$tmp"
  PATH="$(dirname "$GRPCURL"):$PATH" bash "$script" </dev/null
) >"$tmp/walkthrough.log" 2>&1 || {
  echo "readme: FAIL: the walkthrough stopped; its last 60 lines:" >&2
  tail -n 60 "$tmp/walkthrough.log" >&2
  exit 1
}
echo "readme: the walkthrough ran to the end ($(grep -c '^+ grpcurl' "$tmp/walkthrough.log" || true) grpcurl calls)"
