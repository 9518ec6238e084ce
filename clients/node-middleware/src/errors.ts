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
  /**
   * 403: the account's `role` is not one of the `requireRole` of the route, or (reason
   * `insufficient_scope`) the token lacks a scope of the route's `scopes`.
   */
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
  | "dpop_bound"
  | "expired"
  | "not_yet_valid"
  | "missing_claim"
  | "session_ended"
  | "enrolment_only"
  | "insufficient_aal"
  | "role"
  | "insufficient_scope"
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

/**
 * What a protected resource's refusal tells the client, RFC 9728's challenge: where the
 * resource's metadata is (which names gatehouse), and the scopes to ask for.
 */
export interface Challenge {
  /** The resource's metadata URL. */
  resourceMetadata: string;
  /** The scopes to ask for: the route's, else the resource's; none when unknown. */
  scopes?: readonly string[];
}

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
  /** On a protected resource (the `resource` option): RFC 9728's challenge of a `401`, or of a `403` for a scope. */
  readonly challenge: Challenge | undefined;

  constructor(
    code: GatehouseErrorCode,
    reason: GatehouseErrorReason,
    message: string,
    options?: { cause?: unknown; challenge?: Challenge },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = reason;
    this.status = STATUSES[code];
    this.title = TITLES[code];
    this.challenge = options?.challenge;
  }

  /** The same refusal with a protected resource's challenge. */
  withChallenge(challenge: Challenge): GatehouseError {
    return new GatehouseError(this.code, this.reason, this.message, { cause: this.cause, challenge });
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

  /**
   * The headers of the answer, as gatehouse sends them: RFC 6750's `WWW-Authenticate` on a
   * `401`, and on a protected resource RFC 9728's (`resource_metadata`, `scope`) on a `401` and
   * on the `403` of a missing scope.
   */
  get headers(): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/problem+json",
      "cache-control": "no-store",
    };
    if (this.status === 401 || this.reason === "insufficient_scope") {
      const parts = [];
      const error = this.challengeError;
      if (error !== undefined) parts.push(`error="${error}"`);
      if (this.challenge?.scopes?.length) parts.push(`scope="${this.challenge.scopes.join(" ")}"`);
      if (this.challenge) parts.push(`resource_metadata="${this.challenge.resourceMetadata}"`);
      headers["www-authenticate"] = parts.length === 0 ? "Bearer" : `Bearer ${parts.join(", ")}`;
    } else if (this.status === 503) {
      headers["retry-after"] = "1";
    }
    return headers;
  }

  /** RFC 6750's `error` of the challenge: none without a token, `invalid_request` for another scheme. */
  private get challengeError(): string | undefined {
    if (this.reason === "insufficient_scope") return "insufficient_scope";
    if (this.reason === "missing_token") return undefined;
    return this.reason === "not_bearer" ? "invalid_request" : "invalid_token";
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
