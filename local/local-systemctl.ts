import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A local host's `systemctl` (`<host root>/usr/local/sbin/systemctl`, first on its actions' PATH):
 * `systemctl restart <unit>` asks the topology, through its local cloud socket, to restart that
 * unit as systemd would (KillMode=control-group, KillSignal=SIGINT, TimeoutStopSec, then
 * ExecStart again) and returns once the agent answers again, as Type=notify does.
 */
export function installLocalSystemctl(path: string, host: string, socketPath: string): void {
  const script = `#!${process.execPath}
// Written by pgwarden's local topology (local/local-systemctl.ts): this host's systemctl.
// import() works whether node takes this file for CommonJS or for a module.
const [verb, unit] = process.argv.slice(2);
if (verb !== 'restart' || !unit) {
  process.stderr.write('local systemctl: only "restart <unit>" is implemented\\n');
  process.exit(2);
}
import('node:http').then(({ request }) => {
const req = request(
  { socketPath: ${JSON.stringify(socketPath)}, method: 'POST', path: '/hosts/${encodeURIComponent(host)}/units/' + encodeURIComponent(unit.replace(/\\.service$/, '')) + '/restart' },
  (res) => {
    let text = '';
    res.on('data', (d) => (text += d));
    res.on('end', () => {
      if (res.statusCode === 200) process.exit(0);
      process.stderr.write('Job for ' + unit + ' failed: ' + text + '\\n');
      process.exit(1);
    });
  },
);
req.on('error', (e) => { process.stderr.write('local systemctl: ' + e.message + '\\n'); process.exit(1); });
req.end();
});
`;
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, script, { mode: 0o755 });
  chmodSync(path, 0o755);
}
