// The error shape of every API failure: `{"error": "...", "code": "...", "field"?: "..."}`.
// Thrown anywhere below the API layer and rendered once, so a bad input is always a clear 4xx
// and never a 500.

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, field?: string, extra?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.extra = extra;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.message, code: this.code, ...(this.field ? { field: this.field } : {}), ...this.extra };
  }
}

export const badRequest = (code: string, message: string, field?: string): HttpError => new HttpError(400, code, message, field);
export const notFound = (message = 'not found'): HttpError => new HttpError(404, 'not_found', message);
export const conflict = (code: string, message: string, field?: string): HttpError => new HttpError(409, code, message, field);
export const unprocessable = (code: string, message: string, field?: string, extra?: Record<string, unknown>): HttpError =>
  new HttpError(422, code, message, field, extra);
