import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { inHostNetwork } from '../adapters/local/local-hosts.ts';
import { parseEnvironmentFile, parseUnitService } from '../agent/host/host-layout.ts';
import { resolvePgUser } from '../agent/os-user.ts';

/** Where this machine lets us make a control group per local unit, as systemd does per service. */
function cgroupRoot(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  if (existsSync('/sys/fs/cgroup/systemd/cgroup.procs')) return '/sys/fs/cgroup/systemd';
  return undefined;
}

/** The base environment systemd gives a service with `User=` (systemd.exec(5), "Environment"). */
function serviceEnvironment(user: { name: string; home: string }): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
    LANG: 'C.UTF-8',
    USER: user.name,
    LOGNAME: user.name,
    HOME: user.home,
    SHELL: '/bin/sh',
  };
}

/**
 * The unit file followed by its drop-ins (`<unit>.d/*.conf`, in lexical order), as systemd reads
 * them: later assignments add to (`Environment=`) or override the earlier ones.
 */
export function unitWithDropIns(unitFile: string): string {
  const dir = `${unitFile}.d`;
  const dropIns = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.conf'))
        .sort()
    : [];
  return [unitFile, ...dropIns.map((f) => join(dir, f))].map((f) => readFileSync(f, 'utf8')).join('\n');
}

/**
 * One systemd service of a local host, started from its rendered unit file the way systemd
 * starts it (DESIGN §8): ExecStart as `User=`, with the base service environment, `Environment=`
 * and `EnvironmentFile=` (read as root), in a control group of its own when the machine has one,
 * so that everything the service starts (PostgreSQL included) is found and killed with it.
 */
export class LocalUnit {
  readonly cgroup: string | undefined;
  pid: number | undefined;

  constructor(
    readonly unitFile: string,
    readonly name: string,
  ) {
    const root = cgroupRoot();
    this.cgroup = root && join(root, 'pgwarden-local', name);
  }

  /** The host's network namespace: the unit's processes run in it (local/host-network.ts). */
  netns: string | undefined;

  /** Whether the unit's processes are tracked by a control group (else by process group). */
  get tracked(): boolean {
    return this.cgroup !== undefined;
  }

  /** Starts ExecStart with stdout and stderr on `logFd`. Returns the main PID. */
  start(logFd: number, extraEnv: Readonly<Record<string, string>> = {}): number {
    const service = parseUnitService(unitWithDropIns(this.unitFile));
    const user = resolvePgUser(service.user) ?? {
      name: process.env.USER ?? 'root',
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      home: process.env.HOME ?? '/',
    };
    const env: Record<string, string> = {
      ...serviceEnvironment(user),
      ...service.environment,
      INVOCATION_ID: crypto.randomUUID().replaceAll('-', ''),
      ...extraEnv,
    };
    for (const file of service.environmentFiles) {
      const optional = file.startsWith('-');
      const path = optional ? file.slice(1) : file;
      if (optional && !existsSync(path)) continue;
      Object.assign(env, parseEnvironmentFile(readFileSync(path, 'utf8')));
    }
    const [program, ...args] = service.execStart;
    if (!program) throw new Error(`${this.unitFile}: no ExecStart`);
    let argv: string[] = [program, ...args];
    if (this.cgroup) {
      mkdirSync(this.cgroup, { recursive: true });
      // Joins the group before exec, then drops to the unit's user: nothing escapes the group.
      const drop =
        process.getuid?.() === 0
          ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--']
          : [];
      // A preloaded library (libfaketime for a skewed clock) belongs to the service, not to the
      // root wrapper: systemd starts ExecStart directly as User=.
      const preload = env.LD_PRELOAD ? ['/usr/bin/env', `LD_PRELOAD=${env.LD_PRELOAD}`] : [];
      delete env.LD_PRELOAD;
      // Into the host's network after joining the group (nsenter as root, before the drop).
      argv = [
        '/bin/sh',
        '-c',
        'echo $$ > "$0/cgroup.procs" && exec "$@"',
        this.cgroup,
        ...inHostNetwork(this.netns, [...drop, ...preload, ...argv]),
      ];
    } else if (this.netns) {
      throw new Error(`${this.unitFile}: a host network needs root (and its control groups)`);
    }
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      cwd: '/',
      stdio: ['ignore', logFd, logFd],
      env,
      ...(this.cgroup ? {} : { uid: user.uid, gid: user.gid }),
    });
    child.unref();
    this.pid = child.pid;
    return child.pid!;
  }

  /** Every live process of the unit (the control group's members), or [] without a group. */
  pids(): number[] {
    if (!this.cgroup) return [];
    try {
      return readFileSync(join(this.cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Removes the control group once it is empty (a group with members stays). */
  release(): void {
    if (!this.cgroup) return;
    try {
      rmdirSync(this.cgroup);
    } catch {}
  }
}
