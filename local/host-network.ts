import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A command of `ip`/`nft` as root; an error names the command and what it printed. */
function run(args: readonly string[], input?: string): void {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', ...(input ? { input } : {}) });
  if (result.status !== 0)
    throw new Error(`${args.join(' ')}: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
}

/**
 * Why hosts cannot have networks of their own here (not root, no `ip netns`, no `nft`), or
 * undefined when they can.
 */
export function hostNetworkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'nft']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (apt-get install iproute2 nftables)`;
  }
  const probe = `pgwprobe${randomBytes(3).toString('hex')}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.status !== 0) return `ip netns add fails here: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

export interface HostAddress {
  /** The network namespace the host's processes run in. */
  readonly netns: string;
  /** The host's own address on the topology's bridge. */
  readonly ip: string;
}

/**
 * The hosts' network (issue #18): each host a Linux network namespace with its own address on a
 * bridge this topology creates, the bridge's address being where the host reaches what runs
 * outside (DynamoDB's proxies, the local cloud). Faults cut it as networks fail: a host's link
 * down (a full partition), or packet filters inside one host (its traffic with chosen peers
 * dropped, both ways or inbound only). Every name is this topology's own and removed by destroy().
 */
export class HostNetwork {
  private readonly id = randomBytes(2).toString('hex');
  private readonly hosts = new Map<string, HostAddress & { readonly link: string }>();
  /** 10.<200-249>.<0-255>.0/24, chosen at random so that two topologies do not meet. */
  private readonly subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
  private created = false;

  get bridge(): string {
    return `pgw${this.id}br`;
  }

  /** The bridge's address: what the hosts reach the topology's own services at. */
  get gateway(): string {
    return `${this.subnet}.1`;
  }

  create(): void {
    run(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    this.created = true;
    run(['ip', 'addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    run(['ip', 'link', 'set', this.bridge, 'up']);
  }

  /** A namespace for host number `index` (1-based), linked to the bridge. */
  addHost(name: string, index: number): HostAddress {
    const netns = `pgw${this.id}n${index}`;
    const link = `pgw${this.id}h${index}`;
    const peer = `pgw${this.id}p${index}`;
    const ip = `${this.subnet}.${10 + index}`;
    run(['ip', 'netns', 'add', netns]);
    this.hosts.set(name, { netns, ip, link });
    run(['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
    run(['ip', 'link', 'set', peer, 'netns', netns]);
    run(['ip', 'link', 'set', link, 'master', this.bridge]);
    run(['ip', 'link', 'set', link, 'up']);
    run(['ip', '-n', netns, 'link', 'set', peer, 'name', 'eth0']);
    run(['ip', '-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    run(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
    run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
    return { netns, ip };
  }

  address(name: string): HostAddress & { readonly link: string } {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} on this network`);
    return host;
  }

  /** A full partition of one host: its link down (nothing in or out), or back up. */
  setLink(name: string, up: boolean): void {
    run(['ip', 'link', 'set', this.address(name).link, up ? 'up' : 'down']);
  }

  isLinkUp(name: string): boolean {
    const host = this.hosts.get(name);
    if (!host) return true;
    const shown = spawnSync('ip', ['-br', 'link', 'show', host.link], { encoding: 'utf8' }).stdout;
    return !/\bDOWN\b/.test(shown);
  }

  /**
   * Drops the traffic of host `name` with `peers` (addresses): both ways, or only what arrives
   * from them. Replaces any earlier filter of that host; block(name, []) lifts it.
   */
  block(name: string, peers: readonly string[], direction: 'both' | 'inbound' = 'both'): void {
    const { netns } = this.address(name);
    spawnSync('ip', ['netns', 'exec', netns, 'nft', 'delete', 'table', 'inet', 'pgwchaos']);
    if (peers.length === 0) return;
    const set = `{ ${peers.join(', ')} }`;
    run(
      ['ip', 'netns', 'exec', netns, 'nft', '-f', '-'],
      [
        'table inet pgwchaos {',
        `  chain input { type filter hook input priority 0; ip saddr ${set} drop; }`,
        ...(direction === 'both'
          ? [`  chain output { type filter hook output priority 0; ip daddr ${set} drop; }`]
          : []),
        '}',
        '',
      ].join('\n'),
    );
  }

  /** What of this network is still on the machine (links, namespaces): nothing after destroy(). */
  leftovers(): string[] {
    const links = spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' }).stdout.split('\n');
    const spaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n');
    const mine = (line: string) => line.startsWith(`pgw${this.id}`);
    return [...links, ...spaces].filter(mine).map((l) => l.split(/[\s@]/)[0]!);
  }

  /** Removes every namespace (their links go with them) and the bridge. */
  destroy(): void {
    for (const { netns, link } of this.hosts.values()) {
      // The pair goes with its namespace, unless something still holds the namespace open.
      spawnSync('ip', ['link', 'del', link]);
      spawnSync('ip', ['netns', 'del', netns]);
    }
    this.hosts.clear();
    if (this.created) spawnSync('ip', ['link', 'del', this.bridge]);
    this.created = false;
  }
}
