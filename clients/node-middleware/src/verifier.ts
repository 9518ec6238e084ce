/**
 * The verification every entry point shares: gatehouse's discovery document read once, its
 * keys fetched and cached, each access token checked offline with `jose`, and on request a
 * live check of the session at gatehouse.
 */
import { decodeProtectedHeader, errors as jose, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from "jose";

import { GatehouseError, quote, unauthorized, unavailable } from "./errors.js";

/** An organization the token is scoped to (the `org` claim, in gatehouse versions that have organizations). */
export interface GatehouseOrg {
  id: string;
  slug: string;
  /** The account's role in the organization. */
  role: string;
  permissions: string[];
}

/** The claims of a gatehouse access token. */
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
}

/** Who is calling: what a verified token says, as `req.auth`. */
export interface GatehouseAuth {
  /** The account id (`sub`): the stable key to store on your side. */
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
  /** The session the token belongs to (`sid`). */
  sessionId: string;
  /** The organization the token is scoped to (`org`), when gatehouse issues one. */
  org?: GatehouseOrg;
  /** Every claim of the token. */
  claims: AccessTokenClaims;
  /** With `live: "user"`: the account as gatehouse answered `GET /user` for this request. */
  account?: Record<string, unknown>;
}

/** The options of every entry point. Durations are in seconds. */
export interface GatehouseOptions {
  /**
   * gatehouse's public URL (`GATEHOUSE_PUBLIC_URL`), spelled as gatehouse spells it: it must be
   * the discovery document's `issuer` (a trailing slash aside), which every token carries as `iss`.
   */
  issuer: string;
  /** The `aud` to accept: `GATEHOUSE_TOKEN_AUDIENCE`, by default the issuer. */
  audience?: string | string[];
  /** The least `aal` accepted: 2 for routes that need a second factor (`403 insufficient_aal`). Default 1. */
  requireAal?: 1 | 2;
  /** The roles accepted (`403 forbidden` for others); any by default. */
  requireRole?: string | string[];
  /**
   * `"user"`: after the offline checks, ask gatehouse whether the session still lives
   * (`GET {issuer}/user` with the token), on every request, so that a logout is seen at once.
   * Default `false`: offline only.
   */
  live?: false | "user";
  /** Clock skew allowed for `exp` and `nbf`. Default 5. */
  clockTolerance?: number;
  /** A token naming an unknown key fetches the keys again at most this often. Default 30. */
  keyRefetchInterval?: number;
  /** The keys are fetched again, at the next request, once they are this old. Default 600. */
  keysMaxAge?: number;
  /** How long a request to gatehouse may take. Default 5. */
  timeout?: number;
  /** The fetch to reach gatehouse with (a proxy, a test's counter). Default the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Where failures that are not the client's are reported (gatehouse unreachable, a
   * misconfigured issuer). Default one line on `console.error`, the same message at most every 10 s.
   */
  log?: (error: GatehouseError) => void;
}

/** A verifier bound to its options; each entry point builds one per call of its factory. */
export interface Verifier {
  /** The configured issuer, without a trailing slash. */
  readonly issuer: string;
  /**
   * Reads the discovery document and the keys now. Rejects with a `GatehouseError` when the
   * issuer is misconfigured (`code` `internal_error`: its message names both spellings) or
   * gatehouse cannot be reached (`unavailable`). Verification calls it by itself; await it at
   * start to fail early.
   */
  ready(): Promise<void>;
  /** Verifies an access token; throws a `GatehouseError` naming the problem. */
  verify(token: string): Promise<GatehouseAuth>;
  /** Verifies the token of an `Authorization` header value (`Bearer …`); throws a `GatehouseError`. */
  authenticate(authorization: string | null | undefined): Promise<GatehouseAuth>;
  /** Reports a failure that is not the client's (the `log` option). */
  log(error: GatehouseError): void;
}

/** The algorithms gatehouse signs access tokens with; never `none` or an HMAC. */
const ALGORITHMS = ["EdDSA", "ES256", "RS256"] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/** gatehouse refuses longer tokens before parsing them; so do we. */
const MAX_TOKEN_LENGTH = 8192;

/** After a failed first fetch of the discovery document or the keys, the next try waits this long (ms). */
const RETRY_AFTER_FAILURE_MS = 1000;

/** Why a misconfiguration is not the client's business. */
function configurationError(reason: "issuer_mismatch" | "bad_discovery", message: string): GatehouseError {
  return new GatehouseError("internal_error", reason, message);
}

function seconds(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`gatehouse-middleware: ${name} is a number of seconds, at least 0 (got ${String(value)})`);
  }
  return value;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** The default `log`: one line on stderr, the same message at most every 10 s. */
function consoleLog(): (error: GatehouseError) => void {
  let last = "";
  let at = -Infinity;
  return (error) => {
    const now = performance.now();
    if (error.message === last && now - at < 10_000) return;
    last = error.message;
    at = now;
    console.error(`gatehouse-middleware: ${error.message}`);
  };
}

interface Discovered {
  issuer: string;
  jwksUri: string;
}

interface Key {
  alg: Algorithm;
  key: CryptoKey;
}

/** What a fetch that failed says, for a message. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError") return "no answer in time";
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return `${error.message}${detail}`;
  }
  return String(error);
}

/** Builds a verifier. Throws a `TypeError` at once for options that cannot work. */
export function createVerifier(options: GatehouseOptions): Verifier {
  return new GatehouseVerifier(options);
}

class GatehouseVerifier implements Verifier {
  readonly issuer: string;
  private readonly audience: string | string[] | undefined;
  private readonly requireAal: number;
  private readonly requireRole: string[] | undefined;
  private readonly live: false | "user";
  private readonly clockTolerance: number;
  private readonly refetchMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  readonly log: (error: GatehouseError) => void;

  private discovered: Discovered | undefined;
  private discovering: Promise<Discovered> | undefined;
  private discoveryError: GatehouseError | undefined;
  private discoveryTriedAt = -Infinity;

  private keys = new Map<string, Key>();
  private keysLoadedAt: number | undefined;
  private keysTriedAt = -Infinity;
  private keysError: GatehouseError | undefined;
  private keysLoading: Promise<void> | undefined;
  /** When a token's unknown `kid` last made us fetch the keys. */
  private unknownKidFetchedAt = -Infinity;

  constructor(options: GatehouseOptions) {
    if (!options || typeof options.issuer !== "string") {
      throw new TypeError("gatehouse-middleware: the issuer option is required: gatehouse's public URL, e.g. { issuer: 'https://auth.example.com' }");
    }
    let url: URL;
    try {
      url = new URL(options.issuer);
    } catch {
      throw new TypeError(`gatehouse-middleware: the issuer ${quote(options.issuer)} is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`gatehouse-middleware: the issuer ${quote(options.issuer)} is not an http(s) URL`);
    }
    this.issuer = withoutTrailingSlash(options.issuer);
    this.audience = options.audience;
    if (options.requireAal !== undefined && options.requireAal !== 1 && options.requireAal !== 2) {
      throw new TypeError(`gatehouse-middleware: requireAal is 1 or 2 (got ${String(options.requireAal)})`);
    }
    this.requireAal = options.requireAal ?? 1;
    this.requireRole =
      options.requireRole === undefined ? undefined : Array.isArray(options.requireRole) ? options.requireRole : [options.requireRole];
    const live = options.live ?? false;
    if ((live as string) === "introspect") {
      throw new TypeError(
        "gatehouse-middleware: live: 'introspect' is not offered: gatehouse's POST /oauth2/introspect " +
          "answers {\"active\":false} for gatehouse's own access tokens (it covers the tokens of OAuth client apps); use live: 'user'",
      );
    }
    if (live !== false && live !== "user") {
      throw new TypeError(`gatehouse-middleware: live is false or 'user' (got ${quote(live)})`);
    }
    this.live = live;
    this.clockTolerance = seconds(options.clockTolerance, 5, "clockTolerance");
    this.refetchMs = seconds(options.keyRefetchInterval, 30, "keyRefetchInterval") * 1000;
    this.maxAgeMs = seconds(options.keysMaxAge, 600, "keysMaxAge") * 1000;
    this.timeoutMs = seconds(options.timeout, 5, "timeout") * 1000;
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.log = options.log ?? consoleLog();

    // At once, so that a misconfigured issuer is reported at start, not at the first request.
    this.ready().catch((error: unknown) => {
      if (error instanceof GatehouseError && error.status === 500) this.log(error);
    });
  }

  async ready(): Promise<void> {
    await this.discovery();
    await this.keyFor(undefined);
  }

  async authenticate(authorization: string | null | undefined): Promise<GatehouseAuth> {
    if (authorization === undefined || authorization === null || authorization.trim() === "") {
      throw unauthorized("missing_token", "No access token: send it as Authorization: Bearer <token>.");
    }
    const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/.exec(authorization);
    if (!match || match[1]!.toLowerCase() !== "bearer") {
      throw unauthorized("not_bearer", "The Authorization header does not use the Bearer scheme: send Authorization: Bearer <token>.");
    }
    const token = match[2] ?? "";
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
      throw unauthorized("malformed", "The Authorization header has no token after Bearer, or one with characters a token does not have.");
    }
    return this.verify(token);
  }

  async verify(token: string): Promise<GatehouseAuth> {
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH || token.split(".").length !== 3) {
      throw unauthorized("malformed", "The token is not a JWT: a gatehouse access token is three base64url parts joined by dots.");
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (error) {
      throw unauthorized("malformed", "The token is not a JWT: its header is not base64url-encoded JSON.", error);
    }
    if (typeof header.typ !== "string" || header.typ.replace(/^application\//i, "").toLowerCase() !== "jwt") {
      const typ = typeof header.typ === "string" ? quote(header.typ) : "missing";
      throw unauthorized(
        "wrong_type",
        `The token's type (header "typ") is ${typ}, not "JWT": it is not a gatehouse access token (a client app's access token is "at+jwt").`,
      );
    }
    if (typeof header.kid !== "string" || header.kid === "") {
      throw unauthorized("malformed", `The token's header names no key ("kid"): gatehouse names the key of every token it signs.`);
    }
    const { issuer } = await this.discovery();
    const key = await this.keyFor(header.kid);
    if (!key) {
      throw unauthorized(
        "unknown_key",
        `The token was signed by a key ${issuer} does not publish ("kid" ${quote(header.kid)}): it was not issued there, or its key has been retired.`,
      );
    }
    if (header.alg !== key.alg) {
      throw unauthorized(
        "wrong_algorithm",
        `The token's header says "alg" ${quote(header.alg)}, but its key ${quote(header.kid)} is an ${key.alg} key: tokens are checked with their key's algorithm only.`,
      );
    }

    const audience = this.audience ?? issuer;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        typ: "JWT",
        issuer,
        audience,
        clockTolerance: this.clockTolerance,
        requiredClaims: ["sub", "sid", "iat", "exp", "email", "role"],
      }));
    } catch (error) {
      throw this.refusal(error, issuer, audience);
    }

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
      claims,
    };
    if (isObject(claims.org)) auth.org = claims.org as unknown as GatehouseOrg;

    if (aal < 1) {
      throw new GatehouseError(
        "mfa_enrolment_required",
        "enrolment_only",
        "The token is of an enrolment-only session (\"aal\" 0): the account must enrol a second factor at gatehouse first, then use the new access token.",
      );
    }
    if (aal < this.requireAal) {
      throw new GatehouseError(
        "insufficient_aal",
        "insufficient_aal",
        `This route needs a session with a second factor ("aal" ${this.requireAal}); the token's session has "aal" ${aal}: confirm a second factor at gatehouse (POST /auth/reauthenticate with a code), then use the new access token.`,
      );
    }
    if (this.requireRole && !this.requireRole.includes(auth.role)) {
      const wanted = this.requireRole.map(quote).join(" or ");
      throw new GatehouseError("forbidden", "role", `This route is for the role ${wanted}; the account's role is ${quote(auth.role)}.`);
    }
    if (this.live === "user") auth.account = await this.liveAccount(token, issuer);
    return auth;
  }

  /** The `GatehouseError` for what `jwtVerify` threw. */
  private refusal(error: unknown, issuer: string, audience: string | string[]): GatehouseError {
    if (error instanceof jose.JWTExpired) {
      const exp = typeof error.payload.exp === "number" ? error.payload.exp : undefined;
      const when = exp === undefined ? "" : ` at ${new Date(exp * 1000).toISOString()}`;
      return unauthorized("expired", `The token expired${when} ("exp"); get a new one (POST /auth/refresh at gatehouse).`, error);
    }
    if (error instanceof jose.JWTClaimValidationFailed) {
      const { claim, reason, payload } = error;
      if (reason === "missing") return unauthorized("missing_claim", `The token has no "${claim}" claim, which every gatehouse access token has.`, error);
      if (claim === "iss") {
        return unauthorized("wrong_issuer", `The token's issuer ("iss") is ${quote(payload.iss)}, not ${quote(issuer)}.`, error);
      }
      if (claim === "aud") {
        const expected = (Array.isArray(audience) ? audience : [audience]).map(quote).join(" or ");
        return unauthorized("wrong_audience", `The token's audience ("aud") is ${quote(payload.aud)}, not ${expected}.`, error);
      }
      if (claim === "nbf") {
        const nbf = typeof payload.nbf === "number" ? ` before ${new Date(payload.nbf * 1000).toISOString()}` : "";
        return unauthorized("not_yet_valid", `The token is not valid yet ("nbf"): it may not be used${nbf}.`, error);
      }
      if (claim === "typ") {
        return unauthorized("wrong_type", `The token's type (header "typ") is not "JWT": it is not a gatehouse access token.`, error);
      }
      return unauthorized("malformed", `The token's "${claim}" claim is invalid: ${error.message}.`, error);
    }
    if (error instanceof jose.JWSSignatureVerificationFailed) {
      return unauthorized("bad_signature", "The token's signature does not verify with the key it names: it was changed, or signed by another key.", error);
    }
    if (error instanceof jose.JOSEAlgNotAllowed) {
      return unauthorized("wrong_algorithm", "The token's algorithm is not its key's.", error);
    }
    return unauthorized("malformed", `The token is malformed: ${error instanceof Error ? error.message : String(error)}.`, error);
  }

  /** `GET {issuer}/user` with the token: the account while the session lives. */
  private async liveAccount(token: string, issuer: string): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await this.fetch(`${issuer}/user`, {
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw unavailable(`The live check of the session failed: GET ${issuer}/user: ${describe(error)}.`, error);
    }
    if (response.status === 401) {
      await response.body?.cancel();
      throw unauthorized("session_ended", "The token's session has ended at gatehouse (a logout, a password change, the account disabled or deleted).");
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw unavailable(`The live check of the session failed: GET ${issuer}/user answered ${response.status}.`);
    }
    try {
      const account: unknown = await response.json();
      if (isObject(account)) return account;
    } catch (error) {
      throw unavailable(`The live check of the session failed: GET ${issuer}/user answered with something other than JSON.`, error);
    }
    throw unavailable(`The live check of the session failed: GET ${issuer}/user answered with something other than an account.`);
  }

  /** The discovery document's `issuer` and `jwks_uri`, read once. */
  private discovery(): Promise<Discovered> {
    if (this.discovered) return Promise.resolve(this.discovered);
    if (this.discoveryError && (this.discoveryError.status === 500 || performance.now() - this.discoveryTriedAt < RETRY_AFTER_FAILURE_MS)) {
      return Promise.reject(this.discoveryError);
    }
    this.discovering ??= this.discover().then(
      (found) => {
        this.discovered = found;
        this.discovering = undefined;
        return found;
      },
      (error: GatehouseError) => {
        this.discoveryError = error;
        this.discovering = undefined;
        throw error;
      },
    );
    return this.discovering;
  }

  private async discover(): Promise<Discovered> {
    this.discoveryTriedAt = performance.now();
    const url = `${this.issuer}/.well-known/openid-configuration`;
    const document = await this.getJson(url, "gatehouse's discovery document");
    const issuer = document.issuer;
    const jwksUri = document.jwks_uri;
    if (typeof issuer !== "string" || typeof jwksUri !== "string") {
      throw configurationError("bad_discovery", `${url} has no "issuer" and "jwks_uri": is ${this.issuer} gatehouse's public URL?`);
    }
    if (withoutTrailingSlash(issuer) !== this.issuer) {
      throw configurationError(
        "issuer_mismatch",
        `The issuer is configured as ${quote(this.issuer)}, but gatehouse there calls itself ${quote(issuer)} ` +
          `(its GATEHOUSE_PUBLIC_URL, the "iss" of every token): configure the issuer as ${quote(issuer)}.`,
      );
    }
    return { issuer, jwksUri };
  }

  /**
   * The key a `kid` names (with `undefined`, only loads the keys). The keys are fetched at the
   * first call, when older than `keysMaxAge`, and when a `kid` is unknown (a rotation, an
   * algorithm switch), but then at most once per `keyRefetchInterval`: made-up `kid`s cannot make
   * us hammer gatehouse. The first unknown `kid` after the first fetch is fetched for at once.
   */
  private async keyFor(kid: string | undefined): Promise<Key | undefined> {
    if (this.keysLoading) await this.keysLoading.catch(() => {});
    const now = performance.now();
    if (this.keysLoadedAt === undefined) {
      if (this.keysError && now - this.keysTriedAt < RETRY_AFTER_FAILURE_MS) throw this.keysError;
      await this.loadKeys();
    } else if (now - this.keysLoadedAt > this.maxAgeMs && now - this.keysTriedAt >= this.refetchMs) {
      // Keys already loaded keep verifying while gatehouse cannot be reached.
      await this.loadKeys().catch(() => {});
    }
    if (kid === undefined) return undefined;
    const key = this.keys.get(kid);
    const at = performance.now();
    if (key || at - this.unknownKidFetchedAt < this.refetchMs) return key;
    this.unknownKidFetchedAt = at;
    await this.loadKeys();
    return this.keys.get(kid);
  }

  /** Fetches the keys; concurrent callers share one fetch. */
  private loadKeys(): Promise<void> {
    this.keysLoading ??= this.fetchKeys().finally(() => {
      this.keysLoading = undefined;
    });
    return this.keysLoading;
  }

  private async fetchKeys(): Promise<void> {
    this.keysTriedAt = performance.now();
    try {
      const { jwksUri } = await this.discovery();
      const document = await this.getJson(jwksUri, "gatehouse's keys");
      if (!Array.isArray(document.keys)) throw unavailable(`gatehouse's keys at ${jwksUri} are not a JWKS (no "keys").`);
      const keys = new Map<string, Key>();
      for (const jwk of document.keys as JWK[]) {
        if (!isObject(jwk) || typeof jwk.kid !== "string") continue;
        if (jwk.use !== undefined && jwk.use !== "sig") continue;
        // The key's own algorithm, never a token's choice; keys of other algorithms are skipped.
        const alg = ALGORITHMS.find((candidate) => candidate === jwk.alg);
        if (!alg) continue;
        try {
          keys.set(jwk.kid, { alg, key: (await importJWK(jwk, alg)) as CryptoKey });
        } catch {
          // A key this runtime cannot import verifies nothing here; the others still do.
        }
      }
      this.keys = keys;
      this.keysLoadedAt = performance.now();
      this.keysError = undefined;
    } catch (error) {
      this.keysError = error instanceof GatehouseError ? error : unavailable(`gatehouse's keys could not be read: ${describe(error)}.`, error);
      throw this.keysError;
    }
  }

  /** GETs a JSON object from gatehouse; anything else is `unavailable`. */
  private async getJson(url: string, what: string): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await this.fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw unavailable(`${what} could not be fetched from ${url}: ${describe(error)}.`, error);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable(`${what} could not be fetched: ${url} answered ${response.status}.`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw unavailable(`${url} answered with something other than JSON (${what}).`, error);
    }
    if (!isObject(body)) throw unavailable(`${url} answered with something other than a JSON object (${what}).`);
    return body;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
