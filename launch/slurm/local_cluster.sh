#!/usr/bin/env bash
# Starts (or stops) a single-node SLURM "cluster" on this machine for tests: munge + slurmctld + slurmd
# with their state in a temporary folder. Needs root and Debian's slurm-wlm and munge.
#   eval "$(launch/slurm/local_cluster.sh start)"   # prints: export SLURM_CONF=... ; export NORMSCALE_SLURM_DIR=...
#   launch/slurm/local_cluster.sh stop "$NORMSCALE_SLURM_DIR"   # stops the daemons (the folder, with their logs, stays)
set -euo pipefail
action=${1:-start}

if [ "$action" = stop ]; then
  dir=${2:?usage: local_cluster.sh stop DIR}
  pids=()
  for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid; do
    [ -f "$pid" ] && pids+=("$(cat "$pid")") && kill "${pids[-1]}" 2>/dev/null || true
  done
  # A job step whose job was cancelled can outlive slurmd (its slurmstepd waits for the step): it would hold on
  # and keep the step's PMIx folder. This cluster's are found by the SLURM_CONF they were started with.
  for pid in $(pgrep -x slurmstepd || true); do
    environment=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null || true)
    if grep -qx "SLURM_CONF=$dir/slurm.conf" <<< "$environment"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  # Wait (up to 10 s) until they are gone, so the caller may remove the folder they write to.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  exit 0
fi

dir=$(mktemp -d /tmp/normscale-slurm.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/state" "$dir/spool" "$dir/tmp" /run/munge
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge: one key, daemon as user munge.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

cat > "$dir/slurm.conf" <<CONF
ClusterName=normscale-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
# The steps' PMIx folders (spmix_appdir_<uid>_<job>.<step>) go here, not to /tmp: every test cluster numbers its
# jobs from 1, and a step a cancelled job left behind in /tmp failed the next cluster's step of that number.
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

slurmctld -f "$dir/slurm.conf"
slurmd -f "$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"
for _ in $(seq 1 50); do
  sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed" && break
  sleep 0.2
done
sinfo -h -o %T | grep -qE "idle|mixed" || { echo "local SLURM did not come up; logs in $dir" >&2; exit 1; }
# sinfo answers for any controller on this host's port: a cluster already running (another test run's) would pass
# it while ours died on "Address already in use", and the tests would submit to the other one. The controller that
# answers must be ours (its state folder), and both daemons alive.
ours() {
  local config
  config=$(scontrol show config 2>/dev/null) || return 1
  grep -q "^StateSaveLocation *= *$dir/state\$" <<< "$config" || return 1
  for daemon in slurmctld slurmd; do
    pid=$(cat "$dir/$daemon.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  done
}
sleep 0.5
if ! ours; then
  echo "local SLURM did not come up as its own cluster (another SLURM on this host holds its ports?); logs in $dir:" >&2
  tail -n 3 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  "$0" stop "$dir"
  exit 1
fi
echo "export SLURM_CONF=$dir/slurm.conf; export NORMSCALE_SLURM_DIR=$dir"
