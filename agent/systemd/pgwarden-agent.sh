#!/bin/sh
# /usr/local/bin/pgwarden-agent: the agent bundle with its V8 flags (agent/node-flags.ts).
# SSM's pgwarden-action document runs this with `action ...`; the systemd unit with `run ...`.
exec /usr/bin/node --max-semi-space-size=1 --max-old-space-size=64 /opt/pgwarden/pgwarden-agent.mjs "$@"
