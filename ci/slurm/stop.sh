#!/usr/bin/env bash
# Stops the cluster ci/slurm/start.sh started: cancels every job first (jobs outlive the daemons),
# then stops slurmd, slurmctld and munged.
set -uo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

command -v scancel >/dev/null && $sudo scancel --full --quiet --user=root 2>/dev/null
stop() {
    local pidfile=$1
    [ -s "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    $sudo kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        ps -o stat= -p "$pid" 2>/dev/null | grep -qv Z || return 0
        sleep 0.1
    done
    $sudo kill -9 "$pid" 2>/dev/null
}
stop /run/slurmd.pid
stop /run/slurmctld.pid
pkill -u munge munged 2>/dev/null
exit 0
