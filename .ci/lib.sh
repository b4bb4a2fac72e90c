# Helpers shared by .ci/smoke.sh and .ci/readme.sh, which start a real
# identityd and drive it with grpcurl. Source it; it defines functions only.

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Fills the array `unset_args` with `-u NAME` for every IDENTITYD__* variable
# of the caller's, so `env "${unset_args[@]}" …` starts identityd with only
# the settings the script gives it.
collect_identityd_unsets() {
  unset_args=()
  local name
  while IFS= read -r name; do
    if [[ "$name" == IDENTITYD__* ]]; then
      unset_args+=(-u "$name")
    fi
  done < <(compgen -e)
}

# stop_server PID: SIGTERM, up to 5 s to exit, then SIGKILL; reaps it.
stop_server() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
