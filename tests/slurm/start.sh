#!/usr/bin/env bash
# Start (or restart) the tests' one-node SLURM on this machine, as root:
#   tests/slurm/start.sh [STATE_DIR]
#   tests/slurm/start.sh --stop [STATE_DIR]
# Needs Debian's slurmctld, slurmd, slurm-client and munge (apt-get install slurmctld slurmd slurm-client munge).
# The configuration is written from the templates beside this script into STATE_DIR (default
# /tmp/artfinetune-slurm): this machine as controller and only node, its cores, its memory less 2 GiB, two
# stand-in GPUs (empty files), partitions cpu (default) and gpu, and the site policy of job_submit.lua.
# /etc/slurm/slurm.conf, gres.conf and job_submit.lua become links to those files, since a job's own srun
# reads the configuration from there (the script refuses to replace a slurm.conf that is not its link).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stop=0
if [ "${1:-}" = "--stop" ]; then stop=1; shift; fi
state="${1:-/tmp/artfinetune-slurm}"
conf="$state/etc/slurm.conf"

stop_daemons() {
  for daemon in slurmd slurmctld; do
    if [ -f "$state/$daemon.pid" ]; then
      pid="$(cat "$state/$daemon.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$state/$daemon.pid"
    fi
  done
}

if [ "$stop" = 1 ]; then stop_daemons; echo "stopped the SLURM of $state"; exit 0; fi

missing=""
for cmd in slurmctld slurmd sbatch munged; do command -v "$cmd" >/dev/null || missing="$missing $cmd"; done
if [ -n "$missing" ]; then
  echo "start.sh: missing$missing; install Debian's slurmctld slurmd slurm-client munge" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then echo "start.sh: run as root (the daemons and munged need it)" >&2; exit 1; fi

host="$(hostname -s)"
cpus="$(nproc)"
memory_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
stop_daemons
mkdir -p "$state/etc" "$state/ctld" "$state/slurmd"
touch "$state/fakegpu0" "$state/fakegpu1"
for template in slurm.conf gres.conf; do
  sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$memory_mb|g" -e "s|@STATE@|$state|g" \
      -e "s|@CTLD_PORT@|${ARTFT_SLURMCTLD_PORT:-6817}|g" -e "s|@SLURMD_PORT@|${ARTFT_SLURMD_PORT:-6818}|g" \
      "$here/$template.in" > "$state/etc/$template"
done
cp "$here/job_submit.lua" "$state/etc/job_submit.lua"
mkdir -p /etc/slurm
for name in slurm.conf gres.conf job_submit.lua; do
  if [ -e "/etc/slurm/$name" ] && [ ! -L "/etc/slurm/$name" ]; then
    echo "start.sh: /etc/slurm/$name exists and is not a link made by this script; not replacing it" >&2
    exit 1
  fi
  ln -sfn "$state/etc/$name" "/etc/slurm/$name"
done

# munge: one key for the machine, its daemon running as the munge user
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then runuser -u munge -- /usr/sbin/munged; fi

slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 60); do
  node_state="$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)"
  if [ "$node_state" = idle ]; then
    echo "SLURM is up: node $host ($cpus CPUs, $memory_mb MB, 2 GPUs), partitions cpu and gpu ($conf)"
    exit 0
  fi
  sleep 0.5
done
echo "start.sh: the node is not idle after 30 s (state: ${node_state:-none}); the logs:" >&2
tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
exit 1
