import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { OsUser } from '../agent/os-user.ts';

const FILLER = 'pgwarden-chaos-filler';

/**
 * A host's data volume of a fixed size (issue #18): a tmpfs mounted at the data directory, as an
 * EBS volume of that size would be, so that a fault can fill it. Needs root.
 */
export class DataVolume {
  private mounted = false;

  constructor(
    readonly path: string,
    private readonly sizeMb: number,
  ) {}

  mount(owner: OsUser | undefined): void {
    mkdirSync(this.path, { recursive: true, mode: 0o700 });
    const ids = owner ? `,uid=${owner.uid},gid=${owner.gid}` : '';
    const run = spawnSync(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${this.sizeMb}m,mode=0700${ids}`, 'pgwarden-data', this.path],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`mounting the data volume ${this.path}: ${run.stderr.trim()}`);
    this.mounted = true;
  }

  /** Fills what is free (a file of that size beside the data), as a runaway file would. */
  fill(): void {
    const free = statfsSync(this.path);
    const bytes = Number(free.bavail) * Number(free.bsize);
    const run = spawnSync('fallocate', ['-l', String(bytes), join(this.path, FILLER)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`filling ${this.path}: ${run.stderr.trim()}`);
  }

  free(): void {
    rmSync(join(this.path, FILLER), { force: true });
  }

  /** Whether it is still mounted (it must not be once its topology stopped). */
  isMounted(): boolean {
    return spawnSync('findmnt', ['-n', this.path]).status === 0;
  }

  /** Unmounts it (lazily: a process that still holds a file lets go when it exits). */
  unmount(): void {
    if (!this.mounted) return;
    spawnSync('umount', ['-l', this.path]);
    this.mounted = false;
  }
}
