// A CLI failure: printed as one line ("webhost <command>: <message>") with a non-zero exit code.
export class CliError extends Error {
  readonly exitCode: number;
  /** Extra output shown after the line (e.g. the app's start-up output). */
  readonly detail: string | undefined;

  constructor(message: string, exitCode = 1, detail?: string) {
    super(message);
    this.exitCode = exitCode;
    this.detail = detail;
  }
}
