# shellcheck shell=bash
# Shared helpers for deploy/*.sh. Sourced, never executed directly.
#
# Everything a service writes lives under $CF_BUILD_DIR (default
# $REPO/build/services). Processes are tracked by pid files in that folder;
# nothing here ever kills a process by name.

set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
CF_BUILD_DIR="${CF_BUILD_DIR:-$REPO_DIR/build/services}"
mkdir -p "$CF_BUILD_DIR"
CF_BUILD_DIR="$(cd "$CF_BUILD_DIR" && pwd)"
export CF_BUILD_DIR

cf_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${CF_SERVICE:-deploy}" "$*" >&2; }
cf_die() { cf_log "ERROR: $*"; exit 1; }

# cf_apt_install PKG... : install Debian packages that are missing.
# Runs `apt-get update` at most once per process tree (CF_APT_UPDATED=1 skips it).
cf_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "${CF_APT_UPDATED:-0}" != 1 ]; then
    cf_log "apt-get update"
    $sudo apt-get update -q >/dev/null || cf_die "apt-get update failed"
    export CF_APT_UPDATED=1
  fi
  cf_log "apt-get install ${missing[*]}"
  # policy-rc.d: keep package maintainer scripts from starting system services.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || cf_die "apt-get install ${missing[*]} failed"
}

# cf_pid_alive PIDFILE : true if the pid in PIDFILE is a live process (and,
# when CF_PID_MARKER is set, its command line contains that string, so a pid
# reused by an unrelated process after a crash/reboot is not taken for ours).
cf_pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A zombie counts as dead.
  [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != "Z" ] || return 1
  [ -z "${CF_PID_MARKER:-}" ] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CF_PID_MARKER"
}

# cf_port_busy PORT : true if something listens on 127.0.0.1:PORT (or any addr).
cf_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# cf_stop_pid NAME PIDFILE [TIMEOUT_S] : SIGTERM, wait, then SIGKILL.
cf_stop_pid() {
  local name="$1" pidfile="$2" timeout="${3:-60}" pid i
  if ! cf_pid_alive "$pidfile"; then
    rm -f "$pidfile"
    cf_log "$name is not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  cf_log "stopping $name (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    cf_log "$name did not stop within ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  cf_log "$name stopped"
}

# cf_tail_logs LOGFILES : print the end of each ':'-separated log file: only
# what follows the last "==== start" marker, without stack-trace frames.
cf_tail_logs() {
  local f
  local IFS=:
  for f in $1; do
    [ -s "$f" ] || continue
    echo "----- $f (last lines)" >&2
    awk '/^==== start /{n=0; delete l; next} !/^[0-9]+\. (\/|0x)/{l[n++]=$0} END{for(i=(n>30?n-30:0);i<n;i++)print l[i]}' "$f" >&2 || true
  done
}

# cf_wait_ready NAME PIDFILE LOGFILES TIMEOUT_S CHECK_CMD... :
# poll CHECK_CMD until it succeeds; fail early if the process dies.
# LOGFILES is a ':'-separated list, tailed on failure.
cf_wait_ready() {
  local name="$1" pidfile="$2" logfile="$3" timeout="$4"
  shift 4
  local start=$SECONDS
  while true; do
    if "$@" >/dev/null 2>&1; then
      cf_log "$name is ready after $((SECONDS - start))s"
      return 0
    fi
    if ! cf_pid_alive "$pidfile"; then
      cf_log "ERROR: $name exited during startup; its logs:"
      cf_tail_logs "$logfile"
      rm -f "$pidfile"
      exit 1
    fi
    if ((SECONDS - start >= timeout)); then
      cf_log "ERROR: $name not ready after ${timeout}s (check: $*); its logs:"
      cf_tail_logs "$logfile"
      exit 1
    fi
    sleep 0.5
  done
}

# cf_spawn PIDFILE LOGFILE CMD... : start CMD detached (own session, stdin
# closed, stdout+stderr to LOGFILE) and record its pid.
cf_spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  local i
  mkdir -p "$(dirname "$logfile")"
  rm -f "$pidfile"
  # The inner shell records its own pid, closes inherited descriptors above 2
  # (so a CI runner waiting on a pipe is not held open by the service) and
  # execs the service: the pid file is right even when setsid has to fork.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"
    for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
    exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  cf_die "could not start: $* (no pid file $pidfile)"
}
