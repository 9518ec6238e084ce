/**
 * Who is calling, as a verified token says: the shape of `req.auth` for gatehouse's own access
 * tokens and for client apps' tokens (RFC 9068), the credential of a request, and the checks of
 * what a route asks of its caller. Pure: the signature and the keys are the verifier's.
 */
import type { JWTPayload } from "jose";

import { GatehouseError, quote, unauthorized } from "./errors.js";

/** An organization the token is scoped to (the `org` claim, in gatehouse versions that have organizations). */
export interface GatehouseOrg {
  id: string;
  slug: string;
  /** The account's role in the organization. */
  role: string;
  permissions: string[];
}

/**
 * The claims of a gatehouse access token. A client app's token (RFC 9068, taken with the
 * `resource` option) has `iss`, `sub`, `aud`, `client_id`, `scope`, `iat`, `exp`, `jti` and, when
 * a person granted it, `sid`: none of the account's claims.
 */
export interface AccessTokenClaims extends JWTPayload {
  /** gatehouse's public URL. */
  iss: string;
  /** The account id (a UUID). */
  sub: string;
  /** `GATEHOUSE_TOKEN_AUDIENCE`, by default gatehouse's public URL. */
  aud: string | string[];
  /** The session the token belongs to. */
  sid: string;
  iat: number;
  exp: number;
  jti: string;
  /** The account's address at issue time. */
  email: string;
  /** `user` or `admin` at issue time. */
  role: "user" | "admin" | (string & {});
  /** The admin-written object of the account (`{}` unless set). */
  app_data: Record<string, unknown>;
  /** How the session was authenticated (RFC 8176): `["pwd"]`, `["pwd","otp","mfa"]`, … */
  amr: string[];
  /** 1 for one factor, 2 for two, 0 for an enrolment-only session. */
  aal: number;
  org?: GatehouseOrg;
  /** A client app's token: the client it was issued to. */
  client_id?: string;
  /** A client app's token: its scopes, space-separated. */
  scope?: string;
}

/**
 * Who is calling: what a verified token says, as `req.auth`. A client app's token (`isClient`)
 * carries none of the account's claims: `email` and `role` are `""`, `aal` is 0, `amr` `[]` and
 * `appData` `{}`.
 */
export interface GatehouseAuth {
  /**
   * The account id (`sub`): the stable key to store on your side. For a client app's token, the
   * person the client acts for, or the client itself (its id) for a client-credentials token.
   */
  accountId: string;
  /** The account's address when the token was issued (`email`). */
  email: string;
  /** `user` or `admin` when the token was issued (`role`). */
  role: "user" | "admin" | (string & {});
  /** 1 for one factor, 2 for two (`aal`); never 0, which is refused. */
  aal: number;
  /** How the session was authenticated (`amr`, RFC 8176). */
  amr: string[];
  /** The admin-written object of the account (`app_data`); never the user-written `data`. */
  appData: Record<string, unknown>;
  /** The session the token belongs to (`sid`); for a client-credentials token, which has none, `""`. */
  sessionId: string;
  /** The organization the token is scoped to (`org`), when gatehouse issues one. */
  org?: GatehouseOrg;
  /** The token's subject (`sub`): an account id, or a client's id for a client-credentials token. */
  subject: string;
  /** `true` for a client app's access token for this resource (`typ: at+jwt`), `false` for gatehouse's own. */
  isClient: boolean;
  /** The client app the token was issued to (`client_id`); `undefined` for gatehouse's own tokens. */
  clientId?: string;
  /** The token's scopes (`scope`, split on spaces); `[]` for gatehouse's own tokens, which carry none. */
  scopes: string[];
  /** Every claim of the token. */
  claims: AccessTokenClaims;
  /** With `live: "user"`: the account as gatehouse answered `GET /user` for this request. */
  account?: Record<string, unknown>;
}

/** What a route asks of its caller, beyond a valid token. */
export interface Requirements {
  /** The least `aal`: 1 or 2. */
  requireAal: number;
  /** The roles accepted; any when `undefined`. */
  requireRole: string[] | undefined;
  /** The scopes a token must hold, all of them; none when `undefined`. */
  scopes: string[] | undefined;
}

/** The caller of gatehouse's own access token, whose claims the verifier checked. */
export function accountCaller(payload: JWTPayload): GatehouseAuth {
  for (const claim of ["sub", "sid", "email", "role"] as const) {
    if (typeof payload[claim] !== "string") {
      throw unauthorized("malformed", `The token's "${claim}" claim is not a string.`);
    }
  }
  const aal = typeof payload.aal === "number" ? payload.aal : 1; // tokens from before second factors had none
  const claims = { ...payload, aal } as AccessTokenClaims;
  const auth: GatehouseAuth = {
    accountId: claims.sub,
    email: claims.email,
    role: claims.role,
    aal,
    amr: Array.isArray(claims.amr) ? claims.amr : [],
    appData: isObject(claims.app_data) ? claims.app_data : {},
    sessionId: claims.sid,
    subject: claims.sub,
    isClient: false,
    scopes: [],
    claims,
  };
  if (isObject(claims.org)) auth.org = claims.org as unknown as GatehouseOrg;
  return auth;
}

/** The caller of a client app's token (RFC 9068), whose signature, issuer, times and audience the verifier checked. */
export function clientCaller(payload: JWTPayload): GatehouseAuth {
  for (const claim of ["sub", "client_id", "scope", "sid"] as const) {
    const required = claim === "sub" || claim === "client_id";
    if (typeof payload[claim] !== "string" && (required || payload[claim] !== undefined)) {
      throw unauthorized("malformed", `The token's "${claim}" claim is not a string.`);
    }
  }
  const claims = payload as AccessTokenClaims;
  return {
    accountId: claims.sub,
    email: "",
    role: "",
    aal: 0,
    amr: [],
    appData: {},
    sessionId: claims.sid ?? "",
    subject: claims.sub,
    isClient: true,
    clientId: claims.client_id,
    scopes: (claims.scope ?? "").split(" ").filter(Boolean),
    claims,
  };
}

/** Refuses a caller that lacks what the route asks: `403` for the `aal`, the role, a scope. */
export function checkRequirements(auth: GatehouseAuth, requirements: Requirements): void {
  if (auth.isClient) {
    if (requirements.requireAal > 1) {
      throw new GatehouseError(
        "insufficient_aal",
        "insufficient_aal",
        `This route needs a session with a second factor ("aal" ${requirements.requireAal}); a client app's token does not say how the person logged in, so it is refused here.`,
      );
    }
  } else if (auth.aal < 1) {
    throw new GatehouseError(
      "mfa_enrolment_required",
      "enrolment_only",
      "The token is of an enrolment-only session (\"aal\" 0): the account must enrol a second factor at gatehouse first, then use the new access token.",
    );
  } else if (auth.aal < requirements.requireAal) {
    throw new GatehouseError(
      "insufficient_aal",
      "insufficient_aal",
      `This route needs a session with a second factor ("aal" ${requirements.requireAal}); the token's session has "aal" ${auth.aal}: confirm a second factor at gatehouse (POST /auth/reauthenticate with a code), then use the new access token.`,
    );
  }
  if (requirements.requireRole && !requirements.requireRole.includes(auth.role)) {
    const wanted = requirements.requireRole.map(quote).join(" or ");
    const held = auth.isClient ? "a client app's token carries none" : `the account's role is ${quote(auth.role)}`;
    throw new GatehouseError("forbidden", "role", `This route is for the role ${wanted}; ${held}.`);
  }
  const missing = requirements.scopes?.filter((scope) => !auth.scopes.includes(scope)) ?? [];
  if (missing.length > 0) {
    const held = !auth.isClient
      ? "gatehouse's own access tokens carry none"
      : auth.scopes.length > 0
        ? `the token has ${auth.scopes.map(quote).join(", ")}`
        : "the token has none";
    throw new GatehouseError(
      "forbidden",
      "insufficient_scope",
      `This route needs the scope ${missing.map(quote).join(" and ")}; ${held}: ask gatehouse for a token with it.`,
    );
  }
}

/** The token of an `Authorization` header's value (`Bearer …`); throws the `401` of a header without one. */
export function bearerToken(authorization: string | null | undefined): string {
  if (authorization === undefined || authorization === null || authorization.trim() === "") {
    throw unauthorized("missing_token", "No access token: send it as Authorization: Bearer <token>.");
  }
  const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/.exec(authorization);
  const scheme = match?.[1]?.toLowerCase();
  if (scheme === "dpop") {
    throw unauthorized(
      "not_bearer",
      "The Authorization header uses the DPoP scheme: this API does not check DPoP proofs (gatehouse's forward-auth does); send a token that is not bound, as Authorization: Bearer <token>.",
    );
  }
  if (!match || scheme !== "bearer") {
    throw unauthorized("not_bearer", "The Authorization header does not use the Bearer scheme: send Authorization: Bearer <token>.");
  }
  const token = match[2] ?? "";
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw unauthorized("malformed", "The Authorization header has no token after Bearer, or one with characters a token does not have.");
  }
  return token;
}

/** Which of gatehouse's tokens a header's `typ` names: its own access token, or a client app's (RFC 9068). */
export function tokenKind(typ: unknown): "account" | "client" | undefined {
  if (typeof typ !== "string") return undefined;
  const type = typ.replace(/^application\//i, "").toLowerCase();
  return type === "jwt" ? "account" : type === "at+jwt" ? "client" : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
