import type { Logger } from '../log/logger.js';

export interface Closer {
  name: string;
  close: () => Promise<void>;
}

/**
 * Runs closers in order on SIGTERM/SIGINT/SIGHUP, each given what is left of `timeoutMs`, and every
 * closer runs even when an earlier one fails. Kubernetes sends SIGKILL 30 s after SIGTERM by default,
 * so the default budget (25 s) leaves room to flush logs and exit 0. SIGHUP is a terminal closing
 * under `herald dev`: left to its default it ends the process at once, without the 'exit' event, so
 * the private redis-server (in a process group of its own) would outlive it.
 */
export class Shutdown {
  private readonly closers: Closer[] = [];
  private started: Promise<void> | undefined;
  shuttingDown = false;

  constructor(private readonly logger: Logger, private readonly timeoutMs: number) {}

  add(closer: Closer): void {
    this.closers.push(closer);
  }

  /** Installs the signal handlers; `exit` is injected so tests can observe the exit code. */
  listen(exit: (code: number) => void = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.shuttingDown) {
        this.logger.warn({ signal }, 'Second signal; exiting now');
        exit(1);
        return;
      }
      this.logger.info({ signal, timeoutMs: this.timeoutMs }, 'Shutting down');
      void this.run().then((ok) => exit(ok ? 0 : 1));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.once('SIGHUP', onSignal);
  }

  /** Closes everything; resolves true when every closer finished in time. */
  async run(): Promise<boolean> {
    this.shuttingDown = true;
    let ok = true;
    this.started ??= (async () => {
      const deadline = Date.now() + this.timeoutMs;
      for (const c of this.closers) {
        const left = Math.max(0, deadline - Date.now());
        try {
          await Promise.race([
            c.close(),
            new Promise((_, reject) => setTimeout(() => reject(new Error(`did not close within ${left} ms`)), left).unref()),
          ]);
          this.logger.debug({ component: c.name }, 'Closed');
        } catch (err) {
          ok = false;
          this.logger.warn({ component: c.name, err }, 'Close failed');
        }
      }
    })();
    await this.started;
    return ok;
  }
}
