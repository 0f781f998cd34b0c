#!/usr/bin/env bash
# A real one-machine Slurm cluster (munged, slurmctld, slurmd on localhost)
# with everything in DIR: to try `mstar run --launcher slurm` without a
# cluster, and the fixture of tests/slurm_test.sh. Needs root (slurmd starts
# jobs) and Debian's slurm-wlm and munge (scripts/setup.sh installs them).
#
#   scripts/slurm_local.sh start DIR    prints: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm_local.sh stop DIR
#
# Exit codes: 0 ok, 1 failed, 3 cannot run here (not root, no slurm-wlm).
# Containers without cgroup control work: proctrack/linuxproc, task/none.
set -euo pipefail
cmd="${1:-}" dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 1; }

stop() {
  local d="$1"
  if [ -f "$d/slurm.conf" ]; then
    SLURM_CONF="$d/slurm.conf" scontrol shutdown >/dev/null 2>&1 || true
  fi
  # The daemons leave when told; wait for them, bounded, then insist.
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$d/$f" ] || continue
    pid="$(cat "$d/$f" 2>/dev/null || true)"
    [ -n "$pid" ] || continue
    [ "$f" = munge/munged.pid ] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

if [ "$cmd" = stop ]; then stop "$dir"; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then echo "slurm_local: needs root (slurmd starts the jobs)" >&2; exit 3; fi
for exe in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$exe" >/dev/null || { echo "slurm_local: $exe not found (apt install slurm-wlm munge)" >&2; exit 3; }
done

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom >"$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
munged --force -S "$dir/munge/socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed"

# Two free loopback ports for slurmctld and slurmd.
read -r ctld_port d_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
# At least 2 CPUs, whatever the machine has: tests/slurm_test.sh runs a node
# as 2 ranks (Slurm tasks of a CPU each). config_overrides lets slurmd take
# the configured count instead of draining a node that has fewer.
cpus=$(( $(nproc) < 2 ? 2 : $(nproc) ))
cat >"$dir/slurm.conf" <<EOF
ClusterName=mstarlocal
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
KillWait=5
MinJobAge=300
NodeName=mstarnode NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=mstarnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N mstarnode
# Ready when the node is idle (bounded: 20 s).
for _ in $(seq 1 200); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then echo "export SLURM_CONF=$SLURM_CONF"; exit 0; fi
  sleep 0.1
done
echo "slurm_local: the node did not come up; logs in $dir/log" >&2
sinfo >&2 || true
tail -n 20 "$dir/log/"*.log >&2 || true
stop "$dir"
exit 1
