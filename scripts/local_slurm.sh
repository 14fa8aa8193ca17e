#!/usr/bin/env bash
# A single-node SLURM cluster on localhost, for trying the slurm profile on a laptop and for
# tests/test_slurm.py. Everything it starts lives under one directory DIR (configuration,
# state, logs, sockets, pid files); nothing under /etc is changed and no system service is used.
#
#   scripts/local_slurm.sh install      apt-get install the Debian packages (root)
#   scripts/local_slurm.sh check        exit 0 when every binary needed is installed
#   scripts/local_slurm.sh up DIR       start munged, MariaDB, slurmdbd, slurmctld, slurmd
#   scripts/local_slurm.sh env DIR      print the `export` lines the clients need:
#                                         eval "$(scripts/local_slurm.sh env DIR)"
#   scripts/local_slurm.sh status DIR   show the daemons, the node and the queue
#   scripts/local_slurm.sh down DIR     cancel the jobs left, stop every daemon `up` started
#
# Needs root (slurmd starts jobs as their user; the daemons run as root here). On a laptop:
#   sudo scripts/local_slurm.sh install
#   sudo scripts/local_slurm.sh up /tmp/pfslurm
#   eval "$(scripts/local_slurm.sh env /tmp/pfslurm)"; sinfo; sbatch --wrap hostname
#   sudo scripts/local_slurm.sh down /tmp/pfslurm
# The user who ran sudo ($SUDO_USER) is added to the accounting database next to root; more
# users: PF_SLURM_USERS="alice bob". Node size: PF_SLURM_CPUS (default: the CPUs online) and
# PF_SLURM_MEM_MB (default: 90% of MemTotal). Ports are chosen free at `up`.
# Known to work with Debian 12's slurm-wlm 22.05, munge 0.5 and MariaDB 10.11.
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
BINARIES=(munged mungekey srun slurmctld slurmd slurmdbd sbatch squeue sacct sacctmgr sinfo scontrol
          scancel mariadbd mariadb-install-db mariadb)
CLUSTER=pflocal
ACCOUNT=pf
# Two partitions on the one node, as a cluster has a CPU and a GPU partition (the node has no
# GPU: the "gpu" partition is the same CPUs): the profiles send each rule to its partition.
PARTITION=cpu
GPU_PARTITION=gpu
# Daemons started by `up`, in start order (`down` stops them roughly in reverse).
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

die() { echo "local_slurm: $*" >&2; exit 1; }
log() { echo "local_slurm: $*" >&2; }
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Debian puts the daemons in /usr/sbin, which a non-login shell may lack.
export PATH="$PATH:/usr/sbin:/sbin"

missing_binaries() {
    local b out=()
    for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null 2>&1 || out+=("$b"); done
    echo "${out[*]:-}"
}

cmd_check() {
    local m; m=$(missing_binaries)
    if [ -n "$m" ]; then
        echo "local_slurm: missing: $m (install: sudo scripts/local_slurm.sh install)" >&2
        return 1
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "local_slurm: must run as root (slurmd runs jobs as their user)" >&2
        return 1
    fi
}

cmd_install() {
    [ -z "$(missing_binaries)" ] && { log "packages already installed"; return 0; }
    [ "$(id -u)" = 0 ] || die "install needs root (apt-get)"
    command -v apt-get >/dev/null || die "install knows only apt-get; install: ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d 101: do not let the packages' maintainer scripts start the daemons.
    local prc=/usr/sbin/policy-rc.d made=0
    if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod 755 "$prc"; made=1; fi
    local rc=0
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" || rc=$?
    [ "$made" = 1 ] && rm -f "$prc"
    [ "$rc" = 0 ] || die "apt-get install failed (exit $rc)"
    [ -z "$(missing_binaries)" ] || die "still missing after install: $(missing_binaries)"
    log "installed: ${PACKAGES[*]}"
}

# Free TCP port on 127.0.0.1 not in the arguments.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        case " $* " in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
    log "$what: ready"
}

# start NAME LOGFILE COMMAND...: run a daemon in the foreground of its own session, record pid.
start() {
    local name=$1 logf=$2; shift 2
    setsid "$@" </dev/null >>"$logf" 2>&1 &
    echo $! >"$D/run/$name.pid"
    log "$name: started (pid $!)"
}

alive() { local f="$D/run/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

fail_up() {
    log "up failed: $*"
    local f
    for f in "$D"/log/*.log; do
        [ -s "$f" ] || continue
        echo "---- $f (last lines)" >&2; tail -n 15 "$f" >&2
    done
    if [ -n "${PF_SLURM_KEEP_ON_FAIL:-}" ]; then log "left running (PF_SLURM_KEEP_ON_FAIL)"
    else cmd_down >/dev/null 2>&1 || true; fi
    exit 1
}

env_lines() {
    echo "export SLURM_CONF=$D/etc/slurm.conf"
    echo "export PATH=$D/bin:\$PATH"
    echo "export PF_SLURM_DIR=$D"
    echo "export PF_SLURM_ACCOUNT=$ACCOUNT"
    echo "export PF_SLURM_PARTITION=$PARTITION"
    echo "export PF_SLURM_GPU_PARTITION=$GPU_PARTITION"
}

set_dir() {
    [ -n "${1:-}" ] || usage
    if [ "$2" = up ]; then mkdir -p "$1"; fi
    [ -d "$1" ] || die "no such directory: $1"
    D=$(cd "$1" && pwd -P)
    # unix socket paths are limited to 107 bytes
    [ "$D" != / ] || die "DIR must not be /"
    [ "${#D}" -le 60 ] || die "DIR path too long for the daemons' sockets (max 60 chars): $D"
}

cmd_up() {
    cmd_check || exit 1
    if [ -f "$D/run/slurmctld.pid" ] && alive slurmctld; then
        die "already up in $D (scripts/local_slurm.sh down $D first)"
    fi
    # Only ever clear a directory this script made (marker file) or an empty one.
    if [ -n "$(ls -A "$D")" ] && [ ! -f "$D/.pf_local_slurm" ]; then
        die "$D is not empty and was not made by local_slurm.sh up; give a new or empty DIR"
    fi
    rm -rf "${D:?}/bin" "${D:?}/etc" "${D:?}/run" "${D:?}/log" "${D:?}/munge" "${D:?}/mysql" \
        "${D:?}/state" "${D:?}/spool"
    echo "directory of scripts/local_slurm.sh" >"$D/.pf_local_slurm"
    mkdir -p "$D/etc" "$D/run" "$D/log" "$D/munge" "$D/mysql" "$D/state" "$D/spool"
    chmod 755 "$D" "$D/etc" "$D/munge"   # clients of other users need the socket and conf
    chmod 700 "$D/mysql" "$D/state"

    local host cpus mem defmem p_ctld p_d p_dbd dbpass
    host=$(hostname -s)
    # not plain nproc: it obeys OMP_NUM_THREADS, which is often 1 in a test environment
    cpus=${PF_SLURM_CPUS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc --all)}
    mem=${PF_SLURM_MEM_MB:-$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)}
    # Without DefMemPerCPU a job without --mem gets the whole node and jobs run one at a time.
    defmem=$(( mem / cpus / 2 )); [ "$defmem" -ge 100 ] || defmem=100
    p_ctld=$(free_port); p_d=$(free_port "$p_ctld"); p_dbd=$(free_port "$p_ctld" "$p_d")
    dbpass=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')

    # ---- munge: own key and socket, found by the clients through AuthInfo in slurm.conf
    mungekey --create --keyfile="$D/munge/munge.key" >/dev/null 2>&1 \
        || head -c 1024 /dev/urandom >"$D/munge/munge.key"
    chmod 600 "$D/munge/munge.key"
    local msock="$D/munge/munge.socket"
    start munged "$D/log/munged.log" munged --foreground --force --socket="$msock" \
        --key-file="$D/munge/munge.key" --log-file=/dev/null \
        --pid-file="$D/munge/munged.pid" --seed-file="$D/munge/munged.seed"
    wait_for 20 munged bash -c "munge -S '$msock' -n | unmunge -S '$msock'" \
        || fail_up "munged did not answer"

    # ---- MariaDB: socket only (--skip-networking), data under DIR
    local msql="$D/mysql/mysqld.sock"
    mariadb-install-db --no-defaults --user=root --datadir="$D/mysql/data" \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$D/log/mariadb-install.log" 2>&1 || fail_up "mariadb-install-db failed"
    start mariadbd "$D/log/mariadbd.log" mariadbd --no-defaults --user=root \
        --datadir="$D/mysql/data" --socket="$msql" --skip-networking \
        --pid-file="$D/mysql/mariadbd.pid" --innodb-buffer-pool-size=64M \
        --innodb-flush-log-at-trx-commit=0 --innodb-lock-wait-timeout=900
    wait_for 60 mariadbd mariadb --no-defaults -S "$msql" -u root -e "SELECT 1" \
        || fail_up "mariadbd did not start"
    mariadb --no-defaults -S "$msql" -u root <<SQL || fail_up "database setup failed"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$dbpass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

    # ---- configuration
    cat >"$D/etc/slurm.conf" <<EOF
# written by scripts/local_slurm.sh up $D
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p_ctld
SlurmdPort=$p_d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$msock
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.daemon.pid
SlurmdPidFile=$D/run/slurmd.daemon.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$p_dbd
# the munge socket of the connections to slurmdbd (AuthInfo does not cover them)
AccountingStoragePass=$msock
# sacct shows the plugin's --comment (rule_<name>...)
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
ReturnToService=2
SlurmdParameters=config_overrides
# squeue still shows a finished job for MinJobAge seconds (for --slurm-status-command squeue)
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=60
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=$GPU_PARTITION Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
    cat >"$D/etc/slurmdbd.conf" <<EOF
# written by scripts/local_slurm.sh up $D
AuthType=auth/munge
AuthInfo=socket=$msock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$p_dbd
SlurmUser=root
PidFile=$D/run/slurmdbd.daemon.pid
LogFile=$D/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
EOF
    chmod 644 "$D/etc/slurm.conf"
    chown root:root "$D/etc/slurmdbd.conf"; chmod 600 "$D/etc/slurmdbd.conf"
    # snakemake-executor-plugin-slurm-jobstep removes SLURM_CONF from the environment of the
    # `srun` it runs inside each job, and this cluster's configuration is not in /etc/slurm:
    # an `srun` first on PATH that puts it back.
    mkdir -p "$D/bin"
    printf '#!/bin/sh\nSLURM_CONF=%s/etc/slurm.conf\nexport SLURM_CONF\nexec %s "$@"\n' "$D" "$(command -v srun)" \
        >"$D/bin/srun"
    chmod 755 "$D/bin" "$D/bin/srun"
    env_lines >"$D/env.sh"
    export SLURM_CONF="$D/etc/slurm.conf"

    # ---- slurmdbd (finds slurmdbd.conf next to $SLURM_CONF; MYSQL_UNIX_PORT: our socket)
    MYSQL_UNIX_PORT="$msql" start slurmdbd "$D/log/slurmdbd.out" slurmdbd -D
    wait_for 15 slurmdbd sacctmgr -n list cluster || fail_up "slurmdbd did not answer"

    # ---- accounting: cluster, account, users (before slurmctld registers)
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="pf local" \
        Organization=pf >/dev/null
    local u users="root ${SUDO_USER:-} ${PF_SLURM_USERS:-}"
    for u in $users; do
        id "$u" >/dev/null 2>&1 || continue
        sacctmgr -i add user "$u" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" \
            Cluster="$CLUSTER" >/dev/null
    done

    # ---- slurmctld, slurmd
    start slurmctld "$D/log/slurmctld.out" slurmctld -D -i -f "$SLURM_CONF"
    wait_for 60 slurmctld scontrol ping || fail_up "slurmctld did not answer"
    start slurmd "$D/log/slurmd.out" slurmd -D -f "$SLURM_CONF" -N "$host"
    wait_for 60 "node $host" bash -c "sinfo -h -N -o %T | grep -qx idle" \
        || fail_up "node $host did not become idle: $(sinfo -h -N -o '%T %E' 2>&1)"
    local d
    for d in "${DAEMONS[@]}"; do alive "$d" || fail_up "$d exited"; done
    log "up: cluster $CLUSTER, node $host ($cpus CPUs, $mem MB), partitions $PARTITION and" \
        "$GPU_PARTITION (no GPU)," \
        "account $ACCOUNT; ports ctld $p_ctld slurmd $p_d dbd $p_dbd"
    log "clients: eval \"\$($0 env $D)\""
}

cmd_env() {
    [ -f "$D/etc/slurm.conf" ] || die "no cluster in $D (scripts/local_slurm.sh up $D)"
    env_lines
}

cmd_status() {
    local d
    for d in "${DAEMONS[@]}"; do
        if alive "$d"; then echo "$d: running (pid $(cat "$D/run/$d.pid"))"
        else echo "$d: not running"; fi
    done
    if alive slurmctld; then
        export SLURM_CONF="$D/etc/slurm.conf"
        sinfo -N -o '%N %P %T %c %m' || true
        squeue || true
    fi
}

# stop NAME...: SIGTERM the recorded pids together, SIGKILL whichever is left after 20 s.
stop() {
    local name pid i left
    local -a names=() pids=()
    for name in "$@"; do
        [ -f "$D/run/$name.pid" ] || continue
        pid=$(cat "$D/run/$name.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            names+=("$name"); pids+=("$pid")
        fi
        rm -f "$D/run/$name.pid"
    done
    for i in $(seq 1 200); do
        left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM; SIGKILL"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
        log "${names[$i]}: stopped (pid ${pids[$i]})"
    done
}

cmd_down() {
    if [ ! -f "$D/.pf_local_slurm" ] || [ ! -d "$D/run" ]; then
        log "nothing to stop in $D"; return 0
    fi
    if [ -f "$D/etc/slurm.conf" ] && alive slurmctld; then
        export SLURM_CONF="$D/etc/slurm.conf"
        local jobs i
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            log "cancelling jobs: $(echo $jobs)"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            # squeue without -t lists pending and running jobs only
            for i in $(seq 1 100); do
                [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    # slurmctld sends its last records to slurmdbd, which writes them to MariaDB.
    stop slurmd slurmctld
    stop slurmdbd
    stop mariadbd munged
    log "down: $D"
}

main() {
    local cmd=${1:-}
    case "$cmd" in
        install) cmd_install ;;
        check) cmd_check ;;
        up|down|env|status) set_dir "${2:-}" "$cmd"; "cmd_$cmd" ;;
        *) usage ;;
    esac
}

main "$@"
