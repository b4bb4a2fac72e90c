#!/usr/bin/env bash
# Smoke test of the real identityd binary, driven by the real grpcurl binary.
#
#   bash .ci/smoke.sh path/to/identityd
#
# grpcurl is taken from $GRPCURL (set by .ci/run), else from PATH.
# Starts `identityd serve` on a free loopback port with a fresh data dir, then
# checks reflection, health, authentication with the bootstrap token, one write
# (CreateRole) and its activity event, a UserService round trip, a bare
# `identityd bootstrap` beside the running server (stdout holds only the token),
# and a graceful SIGTERM shutdown.
# The bootstrap token is never printed: output shown on failure is redacted.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 1 ]]; then
  echo "usage: $0 path/to/identityd" >&2
  exit 2
fi

BIN=$1
[[ -x "$BIN" ]] || { echo "smoke: FAIL: $BIN is not an executable file" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

GRPCURL=${GRPCURL:-grpcurl}
command -v "$GRPCURL" >/dev/null || { echo "smoke: FAIL: grpcurl not found (set GRPCURL)" >&2; exit 1; }

STARTUP_TIMEOUT=60
SHUTDOWN_TIMEOUT=15

tmp=$(mktemp -d "${TMPDIR:-/tmp}/identityd-smoke.XXXXXX")
data_dir="$tmp/data"
log="$tmp/server.log"
token_file="$data_dir/bootstrap-token"
server_pid=""
token=""

# Replaces every occurrence of the bootstrap token in stdin with a placeholder.
redact() {
  local text
  text=$(cat)
  if [[ -z "$token" && -f "$token_file" ]]; then
    token=$(head -n 1 "$token_file" 2>/dev/null || true)
  fi
  if [[ -n "$token" ]]; then
    text=${text//"$token"/<bootstrap token redacted>}
  fi
  printf '%s\n' "$text"
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$server_pid" ]] && stop_server "$server_pid"
  if [[ $rc -ne 0 ]]; then
    echo "smoke: failed; last 200 lines of the server log:" >&2
    echo "----- server.log -----" >&2
    tail -n 200 "$log" 2>/dev/null | redact >&2
    echo "----- end of server.log -----" >&2
  fi
  if [[ "${SMOKE_KEEP_TMP:-}" == 1 ]]; then
    echo "smoke: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail MESSAGE [OUTPUT]: report a failed check, with the (redacted) output that failed it.
fail() {
  echo "smoke: FAIL: $1" >&2
  if [[ $# -ge 2 ]]; then
    printf '%s\n' "$2" | redact | sed 's/^/    /' >&2
  fi
  exit 1
}

port=$(free_port)
addr="127.0.0.1:$port"
metrics_port=$(free_port)

# Plain grpcurl call: gc ARGS...
gc() {
  "$GRPCURL" -plaintext -connect-timeout 5 -max-time 20 "$@" </dev/null
}

# Authenticated grpcurl call: gca ARGS... The token reaches grpcurl through its
# environment (-expand-headers), so it is neither on a command line nor printed.
gca() {
  # shellcheck disable=SC2016 # ${IDENTITYD_SMOKE_TOKEN} is expanded by grpcurl, not bash
  IDENTITYD_SMOKE_TOKEN="$token" \
    "$GRPCURL" -plaintext -connect-timeout 5 -max-time 20 \
    -expand-headers -H 'authorization: Bearer ${IDENTITYD_SMOKE_TOKEN}' "$@" </dev/null
}

echo "== smoke: starting $BIN serve on $addr (data dir $data_dir)"
# Run from the temp dir so that no identityd.toml of the caller's is picked up,
# and without any IDENTITYD__* settings of the caller's besides the two below.
collect_identityd_unsets
(
  cd "$tmp"
  exec env "${unset_args[@]}" \
    IDENTITYD__DATA_DIR="$data_dir" \
    IDENTITYD__SERVER__LISTEN="$addr" \
    IDENTITYD__SERVER__METRICS_LISTEN="127.0.0.1:$metrics_port" \
    "$BIN" serve </dev/null >"$log" 2>&1
) &
server_pid=$!

echo "== smoke: waiting up to ${STARTUP_TIMEOUT}s for the bootstrap token and the gRPC listener"
deadline=$((SECONDS + STARTUP_TIMEOUT))
ready=0
while ((SECONDS < deadline)); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" && rc=0 || rc=$?
    server_pid=""
    fail "identityd exited during startup with status $rc"
  fi
  if [[ -s "$token_file" ]] && gc -max-time 3 "$addr" list >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
((ready)) || fail "identityd did not write $token_file and answer 'grpcurl list' within ${STARTUP_TIMEOUT}s"
echo "ready after ${SECONDS}s"

echo "== smoke: bootstrap token file"
mode=$(stat -c %a "$token_file")
[[ "$mode" == 600 ]] || fail "bootstrap-token has mode $mode, want 600"
[[ "$(grep -c . "$token_file")" -eq 1 ]] || fail "bootstrap-token should hold exactly one non-empty line"
token=$(grep . "$token_file")
[[ -n "$token" ]] || fail "bootstrap-token is empty"
[[ "$token" != *[[:space:]]* ]] || fail "bootstrap-token line contains whitespace"
echo "bootstrap-token: mode 600, one line, ${#token} characters"

echo "== smoke: grpcurl list"
out=$(gc "$addr" list 2>&1) || fail "grpcurl list failed" "$out"
printf '%s\n' "$out"
for svc in identity.v1.AdminService grpc.health.v1.Health; do
  grep -qxF "$svc" <<<"$out" || fail "grpcurl list does not show $svc" "$out"
done

echo "== smoke: grpc.health.v1.Health/Check"
out=$(gc "$addr" grpc.health.v1.Health/Check 2>&1) || fail "Health/Check failed" "$out"
printf '%s\n' "$out"
grep -Eq '"status": *"SERVING"' <<<"$out" || fail "Health/Check is not SERVING" "$out"

echo "== smoke: describe identity.v1.AdminService (server reflection)"
out=$(gc "$addr" describe identity.v1.AdminService 2>&1) || fail "describe identity.v1.AdminService failed" "$out"
for rpc in ListPermissions CreateRole ListActivity; do
  grep -q "rpc $rpc " <<<"$out" || fail "describe does not show rpc $rpc" "$out"
done
echo "reflection describes identity.v1.AdminService ($(grep -c '^ *rpc ' <<<"$out") rpcs)"

echo "== smoke: unauthenticated ListPermissions is refused"
if out=$(gc "$addr" identity.v1.AdminService/ListPermissions 2>&1); then
  fail "ListPermissions without a token succeeded" "$out"
fi
grep -q 'Code: Unauthenticated' <<<"$out" || fail "ListPermissions without a token did not fail with Unauthenticated" "$out"
echo "refused: Code: Unauthenticated"

echo "== smoke: authenticated ListPermissions"
out=$(gca "$addr" identity.v1.AdminService/ListPermissions 2>&1) \
  || fail "ListPermissions with the bootstrap token failed" "$out"
grep -q '"roles\.write"' <<<"$out" || fail "ListPermissions does not list roles.write" "$out"
echo "permissions: $(grep -c '"name":' <<<"$out"), including roles.write"

echo "== smoke: CreateRole"
out=$(gca -d '{"name":"Smoke support","kind":"ROLE_KIND_API","permissions":["users.read"]}' \
  "$addr" identity.v1.AdminService/CreateRole 2>&1) || fail "CreateRole failed" "$out"
role_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["role"]["id"])' <<<"$out" 2>/dev/null) \
  || fail "CreateRole's response has no role.id" "$out"
[[ -n "$role_id" ]] || fail "CreateRole returned an empty role id" "$out"
echo "created role $role_id"

echo "== smoke: ListActivity shows role.created"
out=$(gca "$addr" identity.v1.AdminService/ListActivity 2>&1) || fail "ListActivity failed" "$out"
grep -q '"role\.created"' <<<"$out" || fail "ListActivity has no role.created event" "$out"
grep -qF "\"$role_id\"" <<<"$out" || fail "ListActivity has no event naming role $role_id" "$out"
echo "activity has role.created for $role_id"

echo "== smoke: UserService CreateUser, LookupUser, ListUsers, UpdateUser"
out=$(gca -d '{"full_name":"Smoke Tester","username":"smoke.tester","email":"smoke@example.com","password":"tidal-lantern-oboe-42"}' \
  "$addr" identity.v1.UserService/CreateUser 2>&1) || fail "CreateUser failed" "$out"
user_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$out" 2>/dev/null) \
  || fail "CreateUser's response has no user.id" "$out"
out=$(gca -d '{"email":"SMOKE@example.com"}' "$addr" identity.v1.UserService/LookupUser 2>&1) \
  || fail "LookupUser failed" "$out"
grep -qF "\"$user_id\"" <<<"$out" || fail "LookupUser did not find user $user_id" "$out"
out=$(gca -d '{"query":"TESTER","include_total_size":true}' "$addr" identity.v1.UserService/ListUsers 2>&1) \
  || fail "ListUsers failed" "$out"
grep -q '"totalSize": "1"' <<<"$out" || fail "ListUsers search did not find exactly one user" "$out"
out=$(gca -d "{\"user\":{\"id\":\"$user_id\",\"full_name\":\"Smoke Tester II\"},\"update_mask\":{\"paths\":[\"full_name\"]}}" \
  "$addr" identity.v1.UserService/UpdateUser 2>&1) || fail "UpdateUser failed" "$out"
grep -q '"fullName": "Smoke Tester II"' <<<"$out" || fail "UpdateUser did not change the full name" "$out"
echo "user $user_id created, found, listed and updated"

echo "== smoke: AuthService Login without a token, IntrospectSession with the bootstrap token"
out=$(gc -d '{"identifier":"smoke.tester","password":"tidal-lantern-oboe-42","user_agent":"smoke"}' \
  "$addr" identity.v1.AuthService/Login 2>&1) || fail "Login failed" "$out"
session_token=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["sessionToken"])' <<<"$out" 2>/dev/null) \
  || fail "Login's response has no sessionToken" "$out"
[[ "$session_token" == ids_* ]] || fail "the session token lacks the ids_ prefix"
out=$(gca -d "{\"session_token\":\"$session_token\"}" "$addr" identity.v1.AuthService/IntrospectSession 2>&1) \
  || fail "IntrospectSession failed" "$out"
grep -q '"active": true' <<<"$out" || fail "IntrospectSession does not say active" "$out"
grep -qF "\"$user_id\"" <<<"$out" || fail "IntrospectSession does not name user $user_id" "$out"
out=$(gc -d '{"identifier":"smoke.tester","password":"wrong-password-entirely"}' \
  "$addr" identity.v1.AuthService/Login 2>&1) && fail "Login with a wrong password succeeded" "$out"
grep -q 'Code: Unauthenticated' <<<"$out" || fail "a wrong password did not answer Unauthenticated" "$out"
echo "signed in as $user_id and introspected the session; a wrong password is refused"

echo "== smoke: a bare 'identityd bootstrap > file' after the first start writes only a working token"
boot_out="$tmp/bootstrap.out"
boot_err="$tmp/bootstrap.err"
(
  cd "$tmp"
  exec env "${unset_args[@]}" -u NO_COLOR IDENTITYD__DATA_DIR="$data_dir" "$BIN" bootstrap </dev/null >"$boot_out" 2>"$boot_err"
) || fail "identityd bootstrap failed" "$(cat "$boot_err")"
[[ "$(wc -l <"$boot_out")" -eq 1 ]] || fail "bootstrap wrote more than one line to stdout" "$(cat "$boot_err")"
new_token=$(cat "$boot_out")
[[ "$new_token" =~ ^ida_[0-9a-f]{20}_[0-9a-f]{64}$ ]] || fail "bootstrap's stdout is not a bearer token alone"
if grep -q $'\e\[' "$boot_err"; then
  fail "bootstrap's log carries colour codes although stderr is a file" "$(cat "$boot_err")"
fi
saved_token=$token
token=$new_token
out=$(gca "$addr" identity.v1.AdminService/ListPermissions 2>&1) && rc=0 || rc=$?
token=$saved_token
[[ $rc -eq 0 ]] || fail "the token printed by bootstrap does not work" "$out"
if grep -q $'\e\[' "$log"; then
  fail "the server log carries colour codes although it is a file" "$(tail -n 20 "$log")"
fi
echo "bootstrap printed one working token; its log went to stderr without colours"

echo "== smoke: GET /metrics serves every metric docs/OPERATIONS.md documents"
operations_doc="$(dirname "${BASH_SOURCE[0]}")/../docs/OPERATIONS.md"
out=$(python3 - "$metrics_port" "$operations_doc" <<'PY' 2>&1
import re, sys, urllib.request
port, doc = sys.argv[1], open(sys.argv[2]).read()
section = doc.split("## Metrics", 1)[1].split("\n## ", 1)[0]
documented = sorted(set(re.findall(r"`(identityd_[a-z_]+)", section)))
served = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
names = {line.split("{")[0].split(" ")[0] for line in served.splitlines() if line and not line.startswith("#")}
missing = [m for m in documented if not any(n == m or n.startswith(m + "_") for n in names)]
if len(documented) < 10 or missing:
    print(f"documented {len(documented)}, missing: {missing}")
    sys.exit(1)
print(f"{len(documented)} documented metrics served")
PY
) || fail "the metrics endpoint does not serve every documented metric" "$out"
echo "$out"

echo "== smoke: SIGTERM shuts down gracefully within ${SHUTDOWN_TIMEOUT}s"
kill -TERM "$server_pid"
stop_deadline=$((SECONDS + SHUTDOWN_TIMEOUT))
while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < stop_deadline)); do
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "identityd still running ${SHUTDOWN_TIMEOUT}s after SIGTERM"
fi
wait "$server_pid" && rc=0 || rc=$?
server_pid=""
[[ $rc -eq 0 ]] || fail "identityd exited with status $rc after SIGTERM, want 0"
echo "identityd exited with status 0"

echo "smoke: ok"
