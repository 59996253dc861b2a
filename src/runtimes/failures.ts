// The errors a driver throws at its caller: they carry what the app printed, because "exited
// with code 1" alone tells a developer nothing.
import type { StartFailure } from './driver.ts';

export class StartFailureError extends Error implements StartFailure {
  readonly output: string;
  readonly exitCode: number | null;

  constructor(message: string, output: string, exitCode: number | null) {
    super(message);
    this.name = 'StartFailure';
    this.output = output;
    this.exitCode = exitCode;
  }
}

/** A dependency install (npm, bun, pip) that failed; the message ends with the tail of its output. */
export class PrepareFailureError extends Error {
  readonly output: string;
  readonly exitCode: number | null;

  constructor(what: string, output: string, exitCode: number | null) {
    const tail = output.length > 2000 ? `…${output.slice(-2000)}` : output;
    super(`${what} failed${exitCode === null ? '' : ` (exit code ${exitCode})`}${tail.trim() ? `:\n${tail.trim()}` : ''}`);
    this.name = 'PrepareFailure';
    this.output = output;
    this.exitCode = exitCode;
  }
}
