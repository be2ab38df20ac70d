#!/usr/bin/env bash
# Stops the Slurm test environment that up.sh brought up: cancels every job
# (stopping slurmd alone would leave jobs running), waits for the queue to
# empty, then stops sshd, slurmd, slurmctld and munged through their pid files.
# Users, keys, config and Slurm state stay, so up.sh is quick again.
# Run as root.
set -euo pipefail

SSHD_PID_FILE="${SSHD_PID_FILE:-/run/ci-slurm-sshd.pid}"
say() { echo "slurm-test-env: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "error: must run as root"; exit 1; }

# Alive = the pid file names a process that is not a zombie (a slow PID 1 may
# leave a stopped daemon unreaped for seconds).
pid_alive() {
  local pid state
  [ -s "$1" ] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state="$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)"
  [ "$state" != Z ] && [ "$state" != X ]
}

stop_by_pid_file() {
  local pid
  pid_alive "$1" || { rm -f "$1"; return 0; }
  pid="$(tr -dc '0-9' <"$1")"
  say "stopping $2 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do pid_alive "$1" || { rm -f "$1"; return 0; }; sleep 0.1; done
  say "$2 ignored SIGTERM for 10 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

if pid_alive /run/slurm/slurmctld.pid; then
  jobs="$(squeue -h -o '%i' 2>/dev/null || true)"
  if [ -n "$jobs" ]; then
    say "cancelling jobs: $(tr '\n' ' ' <<<"$jobs")"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -z "$(squeue -h -o '%i' 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

stop_by_pid_file "$SSHD_PID_FILE" sshd
stop_by_pid_file /run/slurm/slurmd.pid slurmd
stop_by_pid_file /run/slurm/slurmctld.pid slurmctld
stop_by_pid_file /run/munge/munged.pid munged
