#!/usr/bin/env bash
# Installs what pgwarden's tests and local topology need, when it is missing:
# node_modules (npm ci when absent or older than package-lock.json), PostgreSQL 15 server
# binaries, HAProxy, systemd-notify, Python 3, setpriv, libfaketime, Patroni, etcd, pgBackRest, iproute2 and nftables (apt, as root on Debian). Elsewhere it
# prints what to install and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[prereqs] %s\n' "$*" >&2; }

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

pg_bin="${PGWARDEN_PG_BIN:-/usr/lib/postgresql/15/bin}"
missing=()
[[ -x "$pg_bin/postgres" && -x "$pg_bin/pg_basebackup" && -x "$pg_bin/pg_rewind" ]] || missing+=(postgresql-15)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
# The agent notifies systemd through systemd-notify; the watchdog test listens with Python.
command -v systemd-notify >/dev/null 2>&1 || missing+=(systemd)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Local hosts start their unit as its User= with setpriv, inside a control group.
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
# A host with a wrong wall clock (the clock-skew tests) runs its agent under libfaketime.
[[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]] || missing+=(faketime)
# The Patroni drop-in is tested against Patroni itself, with etcd (Debian's packages).
command -v patroni >/dev/null 2>&1 || missing+=(patroni)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
# create_replica_methods and bootstrap.method are tested with a real backup tool.
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
# The fault campaign puts hosts in network namespaces (ip netns, nsenter) and cuts them with nft.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    # Debian's postgresql package creates and starts a default cluster; pgwarden runs its own.
    if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    fi
  else
    say "missing: ${missing[*]}"
    say "install them first, for example on Debian/Ubuntu as root:"
    say "  apt-get install -y ${missing[*]}"
    say "(PostgreSQL 15 server binaries are expected in $pg_bin; set PGWARDEN_PG_BIN to change that)"
    exit 1
  fi
fi

if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  say "creating the unprivileged 'postgres' user that runs PostgreSQL (it refuses to run as root)"
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
