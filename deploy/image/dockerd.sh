#!/usr/bin/env bash
# Make sure a Docker engine answers: use the running one, else start dockerd (root only) and wait.
# Exit 0 when `docker info` works; non-zero with the reason on stderr when it cannot.
set -uo pipefail
LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
command -v docker >/dev/null || { echo "no docker client: apt-get install docker.io" >&2; exit 2; }
docker info >/dev/null 2>&1 && exit 0
command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "dockerd is not running and only root can start it" >&2; exit 2; }
if ! pgrep -x dockerd >/dev/null; then
  nohup dockerd >"$LOG" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not answer within 60 s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 2>/dev/null
exit 3
