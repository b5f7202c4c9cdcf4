#!/bin/sh
# /usr/local/bin/pgwarden-agent: the agent bundle with its V8 flags (agent/node-flags.ts).
# SSM's pgwarden-action document runs this (as root) with `action ...`, the systemd unit with
# `run ...`; both get the passwords from agent.env.
[ -r /etc/pgwarden/agent.env ] && { set -a; . /etc/pgwarden/agent.env; set +a; }
# Node 22 keeps the bundle's compiled code here: an action starts ~150 ms sooner (a failover waits on it).
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-/var/cache/pgwarden/node-compile-cache}"
exec /usr/bin/node --max-semi-space-size=1 --max-old-space-size=64 --jitless --no-expose-wasm /opt/pgwarden/pgwarden-agent.mjs "$@"
