#!/usr/bin/env bash
# Starts a Docker engine when none answers on the socket, then waits until it is ready.
# Idempotent and safe to run from several test processes at once (a lock serializes the start).
# There is no systemd on the machines we test on, so dockerd runs as a plain background process.
#
#   DOCKER_SOCKET   the engine's socket           (default /var/run/docker.sock)
#   DOCKERD_LOG     where dockerd writes its log  (default /tmp/dockerd.log)
#   DOCKERD_PID     pid file of a dockerd we start (default /tmp/dockerd.pid)
#   DOCKERD_WAIT_S  how long to wait for readiness (default 60)
set -euo pipefail
sock="${DOCKER_SOCKET:-/var/run/docker.sock}"
log="${DOCKERD_LOG:-/tmp/dockerd.log}"
pidfile="${DOCKERD_PID:-/tmp/dockerd.pid}"
wait_s="${DOCKERD_WAIT_S:-60}"

# The engine's own health endpoint; no docker CLI needed.
answers() { curl -sf --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

if answers; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  "$here/install-system-deps.sh" || true
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "start-dockerd: dockerd is not installed (apt-get install docker.io) and could not be installed here" >&2
  exit 1
fi
if [ "$sock" != /var/run/docker.sock ]; then
  echo "start-dockerd: no engine answers on $sock; this script only starts the default engine (/var/run/docker.sock)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "start-dockerd: no engine answers on $sock and starting dockerd needs root" >&2
  exit 1
fi

exec 9>"/tmp/start-dockerd.lock"
flock 9
# Another caller may have started it while we waited for the lock.
if ! answers; then
  running=""
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then running=1; fi
  if [ -z "$running" ]; then
    echo "start-dockerd: starting dockerd (log: $log)" >&2
    # setsid: the engine must outlive the test process that started it.
    setsid dockerd >"$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
  fi
fi
deadline=$(( $(date +%s) + wait_s ))
until answers; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-dockerd: the engine did not answer on $sock within ${wait_s}s; last lines of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start-dockerd: dockerd exited; last lines of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
  sleep 0.2
done
