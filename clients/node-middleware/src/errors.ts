/**
 * The errors of gatehouse-middleware. Each one that a request causes is a `GatehouseError`
 * carrying the answer to give: its HTTP status, gatehouse's stable `code`, and an RFC 9457
 * problem document of the shape gatehouse itself answers with
 * (`{type, title, status, detail, code}`).
 */

/** The `code` of a refusal, as gatehouse uses them, plus `insufficient_aal`. */
export type GatehouseErrorCode =
  /** 401: no token, or a token that does not verify (the `reason` says why). */
  | "unauthorized"
  /** 403: the token is of an enrolment-only session (`aal` 0), which must add a second factor first. */
  | "mfa_enrolment_required"
  /** 403: the session's `aal` is below the `requireAal` of the route. */
  | "insufficient_aal"
  /** 403: the account's `role` is not one of the `requireRole` of the route. */
  | "forbidden"
  /** 503: gatehouse could not be reached for its keys or a live check. */
  | "unavailable"
  /** 500: the middleware is misconfigured (an issuer that gatehouse does not call itself), or a bug. */
  | "internal_error";

/** Why a token was refused, finer than the `code`: for logs and tests, never needed by clients. */
export type GatehouseErrorReason =
  | "missing_token"
  | "not_bearer"
  | "malformed"
  | "wrong_type"
  | "unknown_key"
  | "wrong_algorithm"
  | "bad_signature"
  | "wrong_issuer"
  | "wrong_audience"
  | "expired"
  | "not_yet_valid"
  | "missing_claim"
  | "session_ended"
  | "enrolment_only"
  | "insufficient_aal"
  | "role"
  | "unreachable"
  | "issuer_mismatch"
  | "bad_discovery"
  | "internal";

/** An RFC 9457 problem document, as gatehouse answers errors. */
export interface Problem {
  /** `urn:gatehouse:problem:{code}`. */
  type: string;
  title: string;
  status: number;
  /** What went wrong, in plain words. */
  detail: string;
  code: GatehouseErrorCode;
}

const TITLES: Record<GatehouseErrorCode, string> = {
  unauthorized: "Unauthorized",
  mfa_enrolment_required: "Second factor enrolment required",
  insufficient_aal: "Second factor required",
  forbidden: "Forbidden",
  unavailable: "Service unavailable",
  internal_error: "Internal error",
};

const STATUSES: Record<GatehouseErrorCode, number> = {
  unauthorized: 401,
  mfa_enrolment_required: 403,
  insufficient_aal: 403,
  forbidden: 403,
  unavailable: 503,
  internal_error: 500,
};

/** What the client is told for a `500` and a `503`: the cause (addresses, errors) stays in the server's log. */
const INTERNAL_DETAIL = "Something went wrong on our side; it has been logged.";
const UNAVAILABLE_DETAIL = "The API could not reach its authentication service to check the token; try again shortly.";

/**
 * A request that cannot go on, and the answer to give it. `message` names the problem in plain
 * words (which claim, expected and actual value); `problem` is the body to send and `headers`
 * the headers (`WWW-Authenticate` on a `401`, `Retry-After` on a `503`).
 */
export class GatehouseError extends Error {
  override readonly name = "GatehouseError";
  readonly status: number;
  readonly code: GatehouseErrorCode;
  readonly reason: GatehouseErrorReason;
  readonly title: string;

  constructor(code: GatehouseErrorCode, reason: GatehouseErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.reason = reason;
    this.status = STATUSES[code];
    this.title = TITLES[code];
  }

  /**
   * The problem document to send: the message as `detail` for a `401` or `403`; a fixed one for a
   * `500` or `503`, whose cause is the server's business, not the client's.
   */
  get problem(): Problem {
    return {
      type: `urn:gatehouse:problem:${this.code}`,
      title: this.title,
      status: this.status,
      detail: this.status === 500 ? INTERNAL_DETAIL : this.status === 503 ? UNAVAILABLE_DETAIL : this.message,
      code: this.code,
    };
  }

  /** The headers of the answer, as gatehouse sends them (RFC 6750 for a `401`). */
  get headers(): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/problem+json",
      "cache-control": "no-store",
    };
    if (this.status === 401) {
      headers["www-authenticate"] =
        this.reason === "missing_token"
          ? "Bearer"
          : this.reason === "not_bearer"
            ? 'Bearer error="invalid_request"'
            : 'Bearer error="invalid_token"';
    } else if (this.status === 503) {
      headers["retry-after"] = "1";
    }
    return headers;
  }
}

/** `401 unauthorized`. */
export function unauthorized(reason: GatehouseErrorReason, message: string, cause?: unknown): GatehouseError {
  return new GatehouseError("unauthorized", reason, message, cause === undefined ? undefined : { cause });
}

/** `503 unavailable`: gatehouse did not answer as it should. */
export function unavailable(message: string, cause?: unknown): GatehouseError {
  return new GatehouseError("unavailable", "unreachable", message, cause === undefined ? undefined : { cause });
}

/** A value from a token, quoted and cut short for a message. */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
