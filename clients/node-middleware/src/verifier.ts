/**
 * The verification every entry point shares: gatehouse's discovery document read once, its
 * keys fetched and cached, each access token checked offline with `jose`, and on request a
 * live check of the session at gatehouse. With the `resource` option the API is a protected
 * resource, which also takes the access tokens gatehouse issued client apps for it.
 */
import { decodeProtectedHeader, errors as jose, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from "jose";

import {
  accountCaller,
  bearerToken,
  checkRequirements,
  clientCaller,
  tokenKind,
  type GatehouseAuth,
  type Requirements,
} from "./caller.js";
import { GatehouseError, quote, unauthorized, unavailable } from "./errors.js";
import { audienceHolds, protectedResource, scopeList, type ProtectedResource } from "./resource.js";

export type { AccessTokenClaims, GatehouseAuth, GatehouseOrg } from "./caller.js";

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
   * This API's URL as gatehouse's `GATEHOUSE_RESOURCES` lists it (`https://mcp.example.com/mcp`):
   * the API is a protected resource, and also takes the access tokens gatehouse issued client
   * apps for it (`typ: at+jwt`, `aud` holding this URL in any spelling). Refusals then carry RFC
   * 9728's challenge, which names the resource's metadata (see `resourceMetadata`). Without it,
   * client apps' tokens are refused.
   */
  resource?: string;
  /** The scopes the resource supports (its scopes in `GATEHOUSE_RESOURCES`), for its metadata and challenges. */
  resourceScopes?: string[];
  /** The resource's name for people, for its metadata (`resource_name`). */
  resourceName?: string;
  /**
   * The scopes a token must hold (all of them), with `resource`: others get `403 forbidden` with
   * RFC 6750's `insufficient_scope` challenge, and the client asks for more. gatehouse's own
   * access tokens carry no scopes, so a route with `scopes` takes client apps' tokens only.
   */
  scopes?: string[];
  /**
   * `"user"`: after the offline checks, ask gatehouse whether the session still lives
   * (`GET {issuer}/user` with the token), on every request, so that a logout is seen at once.
   * Default `false`: offline only. Not with `resource`: `GET /user` takes gatehouse's own tokens
   * only (behind gatehouse's forward-auth, a client's token is checked against its session).
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
  /** The protected resource of the `resource` options; `undefined` without them. */
  readonly resource: ProtectedResource | undefined;
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

/** The issuer of the options, checked, without a trailing slash: the `iss` of every token. */
export function issuerOf(options: Pick<GatehouseOptions, "issuer">): string {
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
  return withoutTrailingSlash(options.issuer);
}

/** Builds a verifier. Throws a `TypeError` at once for options that cannot work. */
export function createVerifier(options: GatehouseOptions): Verifier {
  return new GatehouseVerifier(options);
}

class GatehouseVerifier implements Verifier {
  readonly issuer: string;
  private readonly audience: string | string[] | undefined;
  private readonly requirements: Requirements;
  readonly resource: ProtectedResource | undefined;
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
    this.issuer = issuerOf(options);
    this.audience = options.audience;
    if (options.requireAal !== undefined && options.requireAal !== 1 && options.requireAal !== 2) {
      throw new TypeError(`gatehouse-middleware: requireAal is 1 or 2 (got ${String(options.requireAal)})`);
    }
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
    this.resource = protectedResource(options);
    if (options.scopes !== undefined && !this.resource) {
      throw new TypeError("gatehouse-middleware: scopes are a protected resource's: set resource (the API's URL in GATEHOUSE_RESOURCES) too");
    }
    if (this.resource && live !== false) {
      throw new TypeError(
        "gatehouse-middleware: live: 'user' does not go with resource: GET /user takes gatehouse's own tokens only; " +
          "put the resource behind gatehouse's forward-auth to have each client token's session checked at every request",
      );
    }
    const scopes = options.scopes === undefined ? [] : scopeList(options.scopes, "scopes");
    this.requirements = {
      requireAal: options.requireAal ?? 1,
      requireRole: options.requireRole === undefined ? undefined : [options.requireRole].flat(),
      scopes: scopes.length > 0 ? scopes : undefined,
    };
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
    let token: string;
    try {
      token = bearerToken(authorization);
    } catch (error) {
      throw this.challenged(error);
    }
    return this.verify(token);
  }

  async verify(token: string): Promise<GatehouseAuth> {
    try {
      return await this.check(token);
    } catch (error) {
      throw this.challenged(error);
    }
  }

  /** A refusal as this API answers it: on a protected resource, with RFC 9728's challenge. */
  private challenged(error: unknown): unknown {
    if (!this.resource || !(error instanceof GatehouseError)) return error;
    if (error.status !== 401 && error.reason !== "insufficient_scope") return error;
    return error.withChallenge({ resourceMetadata: this.resource.metadataUrl, scopes: this.requirements.scopes ?? this.resource.scopes });
  }

  private async check(token: string): Promise<GatehouseAuth> {
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH || token.split(".").length !== 3) {
      throw unauthorized("malformed", "The token is not a JWT: a gatehouse access token is three base64url parts joined by dots.");
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (error) {
      throw unauthorized("malformed", "The token is not a JWT: its header is not base64url-encoded JSON.", error);
    }
    const kind = tokenKind(header.typ);
    if (kind === undefined || (kind === "client" && !this.resource)) {
      const typ = typeof header.typ === "string" ? quote(header.typ) : "missing";
      throw unauthorized(
        "wrong_type",
        this.resource
          ? `The token's type (header "typ") is ${typ}, not "JWT" or "at+jwt": it is not a gatehouse access token.`
          : `The token's type (header "typ") is ${typ}, not "JWT": it is not a gatehouse access token (a client app's access token is "at+jwt", which only an API set up with the resource option takes).`,
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

    const auth = this.resource && kind === "client" ? await this.clientAuth(token, key, issuer, this.resource) : await this.accountAuth(token, key, issuer);
    if (auth.claims.cnf !== undefined) {
      throw unauthorized(
        "dpop_bound",
        `The token is bound to a key (DPoP, claim "cnf"): it opens nothing without a proof of that key, and this API does not check DPoP proofs. ` +
          `Get a token without a DPoP proof, or put the API behind gatehouse's forward-auth, which checks them.`,
      );
    }
    checkRequirements(auth, this.requirements);
    if (this.live === "user") auth.account = await this.liveAccount(token, issuer);
    return auth;
  }

  /** gatehouse's own access token (`typ: JWT`): its signature, `iss`, `aud`, times and the account's claims. */
  private async accountAuth(token: string, key: Key, issuer: string): Promise<GatehouseAuth> {
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

    return accountCaller(payload);
  }

  /**
   * A client app's access token (RFC 9068, `typ: at+jwt`): its signature, `iss`, times, and an
   * `aud` that holds this resource, compared in canonical form.
   */
  private async clientAuth(token: string, key: Key, issuer: string, resource: ProtectedResource): Promise<GatehouseAuth> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        typ: "at+jwt",
        issuer,
        clockTolerance: this.clockTolerance,
        requiredClaims: ["sub", "aud", "client_id", "iat", "exp"],
      }));
    } catch (error) {
      throw this.refusal(error, issuer, resource.url);
    }
    if (!audienceHolds(payload.aud, resource.url)) {
      throw unauthorized(
        "wrong_audience",
        `The token's audience ("aud") is ${quote(payload.aud)}, not the resource ${quote(resource.url)}: it was issued for another API.`,
      );
    }
    return clientCaller(payload);
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
