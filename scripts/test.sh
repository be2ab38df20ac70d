#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need when missing,
# then builds, type-checks, lints and runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v jupyterhub-singleuser >/dev/null 2>&1 || need_apt+=(jupyterhub)
/usr/bin/python3 -c 'import nbclassic' >/dev/null 2>&1 || need_apt+=(python3-nbclassic)
/usr/bin/python3 -c 'import ipykernel' >/dev/null 2>&1 || need_apt+=(python3-ipykernel)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# bin/ganymede-singleuser's tests: its two HTTP clients, ps (the token on no command line), shellcheck
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v ps >/dev/null 2>&1 || need_apt+=(procps)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
# the real Slurm + SSH test environment (scripts/slurm-test-env/up.sh)
command -v sbatch >/dev/null 2>&1 || need_apt+=(slurm-wlm)
[ -x /usr/sbin/munged ] || need_apt+=(munge)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v sudo >/dev/null 2>&1 || need_apt+=(sudo)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing test dependencies with apt-get: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# Bring the Slurm test environment up now, so a broken set-up shows here and
# not as failing suites (they also bring it up lazily: test/helpers/slurm-cluster.ts).
# Without root the Slurm suites skip, saying why.
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/slurm-test-env/up.sh >/dev/null
fi

npm run build
npm run typecheck
npm run lint

# Node 20 does not expand globs after --test: let the shell do it.
shopt -s nullglob globstar
files=(test/unit/*.test.ts test/proxy/*.test.ts test/integration/*.test.ts test/conformance/*.test.ts test/e2e/*.test.ts)
# test/helpers/open-handles.ts ends a file that stays alive after its last test
# (something left open), naming it, instead of letting it run into the timeout.
node --import tsx --import ./test/helpers/open-handles.ts --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
