/** The loop's sleep between cycles, which anything (an action's end, a new promise) can cut short. */
export class LoopSleep {
  private cut: (() => void) | undefined;

  /** Sleeps `ms`, or until wake(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.cut = done;
    });
  }

  wake(): void {
    this.cut?.();
  }
}
