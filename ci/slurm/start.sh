#!/usr/bin/env bash
# Starts a single-node Slurm cluster on localhost for the tests (see tests/cli/slurm.rs):
# munged, slurmctld and slurmd from Debian's packages, no systemd, no cgroups, no accounting.
#   ci/slurm/start.sh            # installs the packages when missing (root or sudo), then starts
#   ci/slurm/stop.sh
# LOCAL_SLURM_CPUS (default 8) is how many CPUs the node declares: more than the machine has is
# allowed (config_overrides), so arrays can run several elements at once on a 2-core machine.
# Idempotent: a running cluster with the same configuration is left alone.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
    ! command -v munged >/dev/null; then
    install_packages() {
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    }
    install_packages || { $sudo apt-get update -qq && install_packages; }
fi

host=$(hostname -s)
cpus=${LOCAL_SLURM_CPUS:-8}
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
wanted=$(cat <<CONF
# Written by batchrun's ci/slurm/start.sh: a single-node cluster for tests.
ClusterName=localcluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=3600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)

alive() { [ -s "$1" ] && ps -o stat= -p "$(cat "$1")" 2>/dev/null | grep -qv Z; }

if [ -f "$conf" ] && [ "$(cat "$conf")" = "$wanted" ] && alive /run/slurmctld.pid && alive /run/slurmd.pid &&
    [ "$(sinfo -h -N -n "$host" -o %T 2>/dev/null)" = idle ]; then
    exit 0
fi
"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true

$sudo install -d /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$conf_dir"
printf '%s\n' "$wanted" | $sudo tee "$conf" >/dev/null

$sudo install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    $sudo runuser -u munge -- munged --force
fi
for _ in $(seq 100); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
done

$sudo slurmctld -c
$sudo slurmd
for _ in $(seq 300); do
    state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
    if [ "$state" = idle ]; then
        exit 0
    fi
    sleep 0.1
done
echo "start.sh: the Slurm node did not become idle (state: ${state:-unknown}); logs in /var/log/slurm" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
