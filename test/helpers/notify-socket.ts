import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from '../../local/wait-for.ts';

// Node cannot receive Unix datagrams; Python's standard library can.
const LISTENER = `
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
print("ready", flush=True)
while True:
    for line in s.recv(4096).decode(errors="replace").split("\\n"):
        if line:
            print("%.3f %s" % (time.time(), line), flush=True)
`;

/**
 * A real NOTIFY_SOCKET, as systemd gives a Type=notify unit: records every sd_notify message
 * with its arrival time. Stop it with `close()` (by PID).
 */
export class NotifySocket {
  readonly messages: { at: number; text: string }[] = [];
  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  static async listen(path: string): Promise<NotifySocket> {
    const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const socket = new NotifySocket(path, child);
    let ready = false;
    let buffer = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') ready = true;
        else {
          const space = line.indexOf(' ');
          socket.messages.push({ at: Number(line.slice(0, space)) * 1000, text: line.slice(space + 1) });
        }
      }
    });
    await waitFor('the notify socket listener', 10_000, async () => ready);
    return socket;
  }

  /** Arrival times (ms since the epoch) of the messages equal to `text`. */
  times(text: string): number[] {
    return this.messages.filter((m) => m.text === text).map((m) => m.at);
  }

  close(): void {
    if (this.child.pid && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
