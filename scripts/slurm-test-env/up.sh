#!/usr/bin/env bash
# Brings up the real Slurm test environment of Ganymede on this machine (run as
# root; no systemd needed): munged, a one-node Slurm (slurmctld + slurmd), the
# test users, a private sshd on 127.0.0.1 that only lets the service account
# `jupyterspawner` in with a key, the BriCS-style wrapper scripts and the
# sudoers rules that let the service account run Slurm commands as the users.
#
# Idempotent and convergent: a file is rewritten only when what it says differs
# (comments, blank lines and line order do not count), a daemon is started when
# its pid file does not name a live process, and restarted only when its own
# config file was rewritten. So running it again, or over an environment some
# other script brought up with the same settings, restarts nothing.
#
# On success it prints `KEY=value` lines describing the environment (read by
# test/helpers/slurm-cluster.ts); progress goes to stderr.
#
# Settings (environment): SSH_PORT (2222), SLURMCTLD_PORT (6817),
# SLURMD_PORT (6818), NODE_CPUS (8), NODE_MEM_MB (4096), SSH_DIR
# (/etc/ci-slurm-ssh), SSHD_PID_FILE (/run/ci-slurm-sshd.pid), SSHD_LOG
# (/var/log/ci-slurm-sshd.log), WRAPPERS_DIR (/usr/local/libexec/ganymede-ci-wrappers).
set -euo pipefail

SSH_PORT="${SSH_PORT:-2222}"
SLURMCTLD_PORT="${SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${SLURMD_PORT:-6818}"
NODE_CPUS="${NODE_CPUS:-8}"
NODE_MEM_MB="${NODE_MEM_MB:-4096}"
SSH_DIR="${SSH_DIR:-/etc/ci-slurm-ssh}"
WRAPPERS_DIR="${WRAPPERS_DIR:-/usr/local/libexec/ganymede-ci-wrappers}"
SERVICE_USER=jupyterspawner
JOB_USERS=(alice bob carol.proj1)

SLURM_CONF=/etc/slurm/slurm.conf
SUDOERS_FILE=/etc/sudoers.d/ganymede-ci
SSHD_PID_FILE="${SSHD_PID_FILE:-/run/ci-slurm-sshd.pid}"
SSHD_LOG="${SSHD_LOG:-/var/log/ci-slurm-sshd.log}"
NODE_NAME="$(hostname -s)"

say() { echo "slurm-test-env: $*" >&2; }
die() { say "error: $*"; exit 1; }

for v in SSH_PORT SLURMCTLD_PORT SLURMD_PORT NODE_CPUS NODE_MEM_MB; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (it creates users, daemons and sudoers rules)"
for cmd in munged slurmctld slurmd sbatch sshd sudo visudo ssh-keygen; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] ||
    die "'$cmd' is missing: apt-get install -y slurm-wlm munge openssh-server sudo"
done

# ---- helpers ---------------------------------------------------------------

# True when the pid file names a process that is alive. A zombie (state Z:
# stopped, waiting to be reaped by a slow PID 1) counts as dead.
pid_alive() {
  local pid state
  [ -s "$1" ] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  # the field after "(comm)" is the state; comm may hold spaces, so cut at the last ')'
  state="$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)"
  [ "$state" != Z ] && [ "$state" != X ]
}

# Sends SIGTERM to the process in the pid file and waits (at most 10 s) until it is gone.
stop_by_pid_file() {
  local pid
  pid_alive "$1" || return 0
  pid="$(tr -dc '0-9' <"$1")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do pid_alive "$1" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# Waits (at most 5 s) until the pid file names a live process.
wait_pid_file() {

  for _ in $(seq 1 100); do pid_alive "$1" && return 0; sleep 0.05; done
  die "$2 did not start (no live pid in $1); see ${3:-its log} and $DAEMON_START_LOG"
}

# What a config file says: comments, blank lines and order removed.
config_meaning() { sed -e 's/#.*//' -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' "$1" | grep -v '^$' | LC_ALL=C sort; }

# Installs $2 (a temp file) at $1 with mode $3 unless $1 already says the same.
# Returns 0 when it wrote the file, 1 when it was already right.
install_if_changed() {
  local target="$1" new="$2" mode="$3"
  if [ -f "$target" ] && [ "$(config_meaning "$target")" = "$(config_meaning "$new")" ]; then
    chmod "$mode" "$target"
    rm -f "$new"
    return 1
  fi
  install -m "$mode" -o root -g root "$new" "$target"
  rm -f "$new"
  return 0
}

# Starts a daemon without handing it this script's descriptors: fd 9 holds the
# lock below, and a daemon that kept it (munged does) would hold the lock for
# its whole life, so every later run would wait for it. Standard input and
# output go to /dev/null, error output to $DAEMON_START_LOG (a daemon's own
# log may belong to its user; this one is root's).
DAEMON_START_LOG=/var/log/ganymede-slurm-test-env.log
start_daemon() {
  echo "$(date -u +%FT%TZ) starting: $*" >>"$DAEMON_START_LOG"
  "$@" 9>&- </dev/null >/dev/null 2>>"$DAEMON_START_LOG"
}

# Who holds the lock file open (pid and command), for the error message.
lock_holders() {
  local fd
  for fd in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "$LOCK_FILE" ] || continue
    fd="${fd#/proc/}"; fd="${fd%%/*}"
    [ "$fd" = "$$" ] || printf '%s(%s) ' "$fd" "$(cat "/proc/$fd/comm" 2>/dev/null)"
  done
}

# One run at a time (test processes may start it together).
LOCK_FILE=/run/ganymede-slurm-test-env.run.lock
exec 9>"$LOCK_FILE"
flock -w 45 9 || die "$LOCK_FILE has been held for 45 s by: $(lock_holders)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# ---- munge -----------------------------------------------------------------

if [ ! -s /etc/munge/munge.key ]; then
  say "creating the munge key"
  install -d -o munge -g munge -m 0700 /etc/munge
  if command -v mungekey >/dev/null 2>&1; then mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
if ! pid_alive /run/munge/munged.pid; then
  say "starting munged"
  rm -f /run/munge/munged.pid
  start_daemon runuser -u munge -- /usr/sbin/munged
  wait_pid_file /run/munge/munged.pid munged /var/log/munge/munged.log
fi
munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# ---- slurm -----------------------------------------------------------------

cat >"$TMP/slurm.conf" <<EOF
# Written by Ganymede's scripts/slurm-test-env/up.sh: a one-node test cluster
# without systemd, cgroups or accounting.
ClusterName=ci
# the controller's name must be this host's short name; its address is forced to loopback
SlurmctldHost=${NODE_NAME}(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# processes are tracked through /proc, tasks are not bound: no cgroups needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# start a submitted job at once instead of up to 3 s later
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
# the node line below is believed even when it claims more CPUs than the machine has
SlurmdParameters=config_overrides
KillWait=5
# there is no mailer on test machines
MailProg=/bin/true
MinJobAge=300
NodeName=${NODE_NAME} NodeAddr=127.0.0.1 NodeHostname=${NODE_NAME} CPUs=${NODE_CPUS} Sockets=1 CoresPerSocket=${NODE_CPUS} ThreadsPerCore=1 RealMemory=${NODE_MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
id -u slurm >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin slurm
install -d -m 0755 /etc/slurm /var/spool/slurmd
# slurmctld writes its pid file, log and state as SlurmUser
install -d -o slurm -g slurm -m 0755 /run/slurm /var/log/slurm /var/spool/slurmctld
slurm_changed=0
if install_if_changed "$SLURM_CONF" "$TMP/slurm.conf" 0644; then slurm_changed=1; say "wrote $SLURM_CONF"; fi

if [ "$slurm_changed" = 1 ]; then
  stop_by_pid_file /run/slurm/slurmd.pid
  stop_by_pid_file /run/slurm/slurmctld.pid
fi
if ! pid_alive /run/slurm/slurmctld.pid; then
  say "starting slurmctld"
  rm -f /run/slurm/slurmctld.pid
  start_daemon /usr/sbin/slurmctld  # no -c: jobs are recovered from StateSaveLocation
  wait_pid_file /run/slurm/slurmctld.pid slurmctld /var/log/slurm/slurmctld.log
fi
if ! pid_alive /run/slurm/slurmd.pid; then
  say "starting slurmd"
  rm -f /run/slurm/slurmd.pid
  start_daemon /usr/sbin/slurmd
  wait_pid_file /run/slurm/slurmd.pid slurmd /var/log/slurm/slurmd.log
fi

# The node must be usable: idle, mixed or allocated (a restarted slurmd is
# `unknown` for a moment; a node found down or drained is resumed).
node_ok=0
for _ in $(seq 1 100); do
  state="$(sinfo -h -n "$NODE_NAME" -o '%T' 2>/dev/null | head -n1 | tr -d '*~#')" || state=""
  case "$state" in
    idle|mixed|allocated|completing) node_ok=1; break ;;
    down|drained|draining|fail|failing)
      scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.1
done
[ "$node_ok" = 1 ] || die "node $NODE_NAME is '${state:-not answering}' (see /var/log/slurm/slurmd.log)"

# ---- users -----------------------------------------------------------------

for u in "$SERVICE_USER" "${JOB_USERS[@]}"; do
  if ! id -u "$u" >/dev/null 2>&1; then
    say "creating user $u"
    useradd --create-home --home-dir "/home/$u" --shell /bin/bash "$u"
  fi
  [ -d "/home/$u" ] || install -d -o "$u" -g "$(id -gn "$u")" -m 0755 "/home/$u"
done
# useradd leaves '!' (locked) as password; without PAM, sshd refuses a locked
# account even for key logins. '*' = no password, but not locked.
if getent shadow "$SERVICE_USER" | cut -d: -f2 | grep -q '^!'; then usermod -p '*' "$SERVICE_USER"; fi

# ---- wrappers (the BriCS contract) ------------------------------------------

install -d -m 0755 "$WRAPPERS_DIR"
cat >"$TMP/slurmspawner_sbatch" <<'EOF'
#!/bin/bash
# Submits the batch script read from standard input; prints the job id.
# Written by Ganymede's scripts/slurm-test-env/up.sh (the BriCS wrapper contract).
cd "$HOME" 2>/dev/null || cd /
exec /usr/bin/sbatch --parsable
EOF
cat >"$TMP/slurmspawner_squeue" <<'EOF'
#!/bin/bash
# Prints "<state> <host>" of the job whose id is in SLURMSPAWNER_JOB_ID.
# Written by Ganymede's scripts/slurm-test-env/up.sh (the BriCS wrapper contract).
if ! [[ "${SLURMSPAWNER_JOB_ID:-}" =~ ^[0-9]+$ ]]; then
  echo "slurmspawner_squeue: SLURMSPAWNER_JOB_ID must be a job number" >&2
  exit 2
fi
exec /usr/bin/squeue -h -j "$SLURMSPAWNER_JOB_ID" -o '%T %B'
EOF
cat >"$TMP/slurmspawner_scancel" <<'EOF'
#!/bin/bash
# Cancels the job whose id is in SLURMSPAWNER_JOB_ID.
# Written by Ganymede's scripts/slurm-test-env/up.sh (the BriCS wrapper contract).
if ! [[ "${SLURMSPAWNER_JOB_ID:-}" =~ ^[0-9]+$ ]]; then
  echo "slurmspawner_scancel: SLURMSPAWNER_JOB_ID must be a job number" >&2
  exit 2
fi
exec /usr/bin/scancel "$SLURMSPAWNER_JOB_ID"
EOF
for w in slurmspawner_sbatch slurmspawner_squeue slurmspawner_scancel; do
  if ! cmp -s "$TMP/$w" "$WRAPPERS_DIR/$w"; then install -m 0755 -o root -g root "$TMP/$w" "$WRAPPERS_DIR/$w"; fi
done

# ---- sudoers ---------------------------------------------------------------

users_csv="$(IFS=,; echo "${JOB_USERS[*]}")"
cat >"$TMP/sudoers" <<EOF
# Written by Ganymede's scripts/slurm-test-env/up.sh.
# The service account may run the Slurm client commands and the BriCS wrappers
# as the test users, without a password. SETENV only on the plain commands (the
# default exec_prefix 'sudo -E -u {username}' needs it); the wrappers are run
# as BriCS does, 'sudo -u <user>', and get the job id through env_keep.
Runas_Alias  GANYMEDE_CI_USERS = ${users_csv}
Cmnd_Alias   GANYMEDE_CI_SLURM = /usr/bin/sbatch, /usr/bin/squeue, /usr/bin/scancel
Cmnd_Alias   GANYMEDE_CI_WRAPPERS = ${WRAPPERS_DIR}/slurmspawner_sbatch, ${WRAPPERS_DIR}/slurmspawner_squeue, ${WRAPPERS_DIR}/slurmspawner_scancel
Defaults:${SERVICE_USER} !requiretty, !lecture
Defaults:${SERVICE_USER} env_keep += "SLURMSPAWNER_JOB_ID"
${SERVICE_USER} ALL=(GANYMEDE_CI_USERS) NOPASSWD:SETENV: GANYMEDE_CI_SLURM
${SERVICE_USER} ALL=(GANYMEDE_CI_USERS) NOPASSWD: GANYMEDE_CI_WRAPPERS
EOF
visudo -cqf "$TMP/sudoers" || die "the generated sudoers file does not parse"
if ! cmp -s "$TMP/sudoers" "$SUDOERS_FILE"; then install -m 0440 -o root -g root "$TMP/sudoers" "$SUDOERS_FILE"; fi
visudo -cq >/dev/null || die "sudoers as a whole does not parse after writing $SUDOERS_FILE"

# ---- sshd ------------------------------------------------------------------

install -d -m 0755 "$SSH_DIR"
install -d -m 0755 /run/sshd   # privilege separation directory; nothing else creates it without systemd
[ -s "$SSH_DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C ganymede-ci-host -f "$SSH_DIR/ssh_host_ed25519_key"
[ -s "$SSH_DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ganymede-ci-client -f "$SSH_DIR/client_ed25519"
chmod 0600 "$SSH_DIR/ssh_host_ed25519_key" "$SSH_DIR/client_ed25519"

svc_home="$(getent passwd "$SERVICE_USER" | cut -d: -f6)"
svc_group="$(id -gn "$SERVICE_USER")"
install -d -o "$SERVICE_USER" -g "$svc_group" -m 0700 "$svc_home/.ssh"
# Added, not replaced: another environment's key (same account) keeps working.
client_key="$(cut -d' ' -f1,2 "$SSH_DIR/client_ed25519.pub")"
if ! grep -qsF "$client_key" "$svc_home/.ssh/authorized_keys"; then
  echo "$client_key ganymede-ci" >>"$svc_home/.ssh/authorized_keys"
fi
chown "$SERVICE_USER:$svc_group" "$svc_home/.ssh/authorized_keys"
chmod 0600 "$svc_home/.ssh/authorized_keys"

echo "[127.0.0.1]:${SSH_PORT} $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")" >"$TMP/known_hosts"
if ! cmp -s "$TMP/known_hosts" "$SSH_DIR/known_hosts"; then install -m 0644 "$TMP/known_hosts" "$SSH_DIR/known_hosts"; fi

cat >"$TMP/sshd_config" <<EOF
# Written by Ganymede's scripts/slurm-test-env/up.sh: the test "login host",
# loopback only, key logins of the service account only.
Port ${SSH_PORT}
ListenAddress 127.0.0.1
HostKey ${SSH_DIR}/ssh_host_ed25519_key
PidFile ${SSHD_PID_FILE}
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
AllowUsers ${SERVICE_USER}
StrictModes yes
X11Forwarding no
AllowTcpForwarding yes
PrintMotd no
MaxStartups 100:30:200
MaxSessions 50
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
sshd_changed=0
if install_if_changed "$SSH_DIR/sshd_config" "$TMP/sshd_config" 0644; then sshd_changed=1; say "wrote $SSH_DIR/sshd_config"; fi
/usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd refuses $SSH_DIR/sshd_config"
if [ "$sshd_changed" = 1 ]; then stop_by_pid_file "$SSHD_PID_FILE"; fi
if ! pid_alive "$SSHD_PID_FILE"; then
  say "starting sshd on 127.0.0.1:${SSH_PORT}"
  rm -f "$SSHD_PID_FILE"
  start_daemon /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$SSHD_LOG"
  wait_pid_file "$SSHD_PID_FILE" sshd "$SSHD_LOG"
fi

# ---- what the tests need to know ---------------------------------------------

cat <<EOF
SSH_HOST=127.0.0.1
SSH_PORT=${SSH_PORT}
SSH_USER=${SERVICE_USER}
SSH_KEY_FILE=${SSH_DIR}/client_ed25519
SSH_KNOWN_HOSTS=${SSH_DIR}/known_hosts
SSH_HOST_KEY=${SSH_DIR}/ssh_host_ed25519_key
SSH_CONFIG=${SSH_DIR}/sshd_config
SSHD_PID_FILE=${SSHD_PID_FILE}
SSHD_LOG=${SSHD_LOG}
WRAPPERS_DIR=${WRAPPERS_DIR}
SLURM_NODE=${NODE_NAME}
SLURM_NODE_CPUS=${NODE_CPUS}
SLURM_USERS=${JOB_USERS[*]}
SLURMCTLD_PID_FILE=/run/slurm/slurmctld.pid
SLURMD_PID_FILE=/run/slurm/slurmd.pid
EOF
