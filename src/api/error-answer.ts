import { z } from 'zod';

/**
 * Every error `code` an HTTP answer of Herald can carry, by status. Clients branch on the code; the
 * OpenAPI document lists these per status, and `IngestError` only takes a (status, code) pair from
 * here, so a new code is documented before it can be sent.
 */
export const ERROR_CODES = {
  400: ['empty_body', 'malformed_json', 'invalid_utf8', 'invalid_event', 'invalid_batch', 'empty_batch', 'invalid_idempotency_key', 'encoding.invalid', 'request.aborted', 'bad_request', 'invalid_event_id', 'invalid_query', 'invalid_cursor'],
  401: ['HERALD_AUTH_MISSING', 'HERALD_AUTH_MALFORMED', 'HERALD_AUTH_INVALID'],
  403: ['type_forbidden'],
  404: ['not_found', 'event_not_found'],
  408: ['request_timeout'],
  413: ['body_too_large', 'batch_too_large', 'batch_over_rate_burst'],
  415: ['unsupported_media_type', 'encoding.unsupported'],
  422: ['idempotency_key_reused'],
  429: ['rate_limited'],
  431: ['headers_too_large'],
  500: ['internal'],
  503: ['store_unavailable', 'store_outcome_unknown', 'replication_unconfirmed', 'partially_stored', 'starting_up'],
} as const;

export type ErrorStatus = keyof typeof ERROR_CODES;
/** The codes an answer with status `S` may carry. */
export type ErrorCode<S extends ErrorStatus = ErrorStatus> = (typeof ERROR_CODES)[S][number];
/** A status and one of its codes, as a tuple, so a mismatched pair does not compile. */
export type StatusAndCode = { [S in ErrorStatus]: [status: S, code: ErrorCode<S>] }[ErrorStatus];

/**
 * One zod issue as it appears in JSON (`path` and `message` always; other members depend on the
 * issue's `code` and are passed through).
 */
export const ValidationIssue = z.looseObject({
  code: z.string(),
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
});
export type ValidationIssue = z.infer<typeof ValidationIssue>;

/**
 * zod's issues as the JSON they are sent as. Their paths may hold symbols in general; the values
 * validated here come from JSON.parse, whose keys are strings, so they hold none.
 */
export function validationIssues(issues: ReadonlyArray<{ path: PropertyKey[]; code: string; message: string }>): ValidationIssue[] {
  return issues as ValidationIssue[];
}

/** The body of every error answer: `{"error": {"code", "message", "issues"?}}`. */
function errorAnswer<S extends ErrorStatus>(status: S) {
  const issues = status === 400 ? { issues: z.array(ValidationIssue).optional().describe('what is wrong with the event, one zod issue each (code invalid_event)') } : {};
  return z
    .object({
      error: z.object({
        code: z.enum(ERROR_CODES[status] as unknown as [ErrorCode<S>, ...ErrorCode<S>[]]).describe('stable; branch on this'),
        message: z.string().describe('what is wrong and what to do next, for people'),
        ...issues,
      }),
    })
    .describe(`an error answered with status ${status}`);
}

/** The error body of each status, e.g. `ERROR_ANSWERS[413]`. */
export const ERROR_ANSWERS = Object.fromEntries(
  (Object.keys(ERROR_CODES) as unknown as ErrorStatus[]).map((status) => [status, errorAnswer(Number(status) as ErrorStatus)]),
) as unknown as { [S in ErrorStatus]: ReturnType<typeof errorAnswer<S>> };

/** What an error answer's JSON body holds. */
export interface ErrorAnswer {
  error: { code: ErrorCode; message: string; issues?: unknown };
}
