/**
 * gatehouse-client/server: verifying gatehouse's access tokens in an API, offline, with `jose`.
 *
 *   import { verifyAccessToken } from "gatehouse-client/server";
 *   const claims = await verifyAccessToken(token, { issuer: "https://auth.example.com",
 *                                                  audience: "https://auth.example.com" });
 *
 * The keys come from `{issuer}/.well-known/jwks.json`, cached, and fetched again when a token
 * names a key not seen yet (a rotation, an algorithm switch). A token verifies when its
 * signature does, with the algorithm of the key its `kid` names; its header's `typ` is `JWT`
 * (gatehouse's own tokens: a client app's `at+jwt` access token is refused); `iss` and `aud`
 * are the ones expected; it has not expired; and its `aal` is at least `minAal`.
 *
 * It does not know whether the session has ended since: gatehouse refuses such a token on the
 * very next request, a verifier offline only once it expires. For the requests where that
 * matters, ask gatehouse (`GET {issuer}/user` with the same token).
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";

/** The claims of a gatehouse access token. */
export interface AccessTokenClaims extends JWTPayload {
  /** gatehouse's public URL. */
  iss: string;
  /** The account id (a UUID). */
  sub: string;
  /** `GATEHOUSE_TOKEN_AUDIENCE`, by default the public URL. */
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
  /** 1 for one factor, 2 for two, 0 for an enrolment-only session. A token without one counts as 1. */
  aal: number;
  /**
   * The session's active organization and the account's membership there, read when the token
   * was signed; absent when the session has none (or the account is no longer a member).
   */
  org?: { id: string; slug: string; role: string; permissions: string[] };
}

export interface VerifyOptions {
  /** gatehouse's public URL, the tokens' `iss` (a trailing slash is ignored). */
  issuer: string;
  /** The `aud` to expect: `GATEHOUSE_TOKEN_AUDIENCE`, by default the public URL. */
  audience: string | string[];
  /** Where the keys are; `{issuer}/.well-known/jwks.json` by default. */
  jwksUrl?: string | URL;
  /** The algorithms accepted; by default those gatehouse signs with: EdDSA, ES256, RS256. */
  algorithms?: string[];
  /** Clock skew allowed for `exp` and `iat`, in seconds or as "5s" (default none). */
  clockTolerance?: number | string;
  /**
   * The least `aal` accepted (default 1, which refuses an enrolment-only session's `aal` 0);
   * 2 for routes that need a second factor.
   */
  minAal?: number;
}

const ALGORITHMS = ["EdDSA", "ES256", "RS256"];

/** One key set per JWKS address, shared by every verification in this process. */
const keySets = new Map<string, JWTVerifyGetKey>();

function keySet(url: string): JWTVerifyGetKey {
  let keys = keySets.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url));
    keySets.set(url, keys);
  }
  return keys;
}

/**
 * Verifies a gatehouse access token and returns its claims. Throws one of `jose`'s errors
 * (`error.code` such as `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_JWT_EXPIRED`,
 * `ERR_JWT_CLAIM_VALIDATION_FAILED` with `error.claim` naming `aud`, `iss`, `typ` or `aal`)
 * when it does not verify: answer `401` then. An `iss` refusal's message names the token's
 * issuer and the expected one.
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<AccessTokenClaims> {
  const issuer = options.issuer.replace(/\/+$/, "");
  const keys = keySet(String(options.jwksUrl ?? `${issuer}/.well-known/jwks.json`));
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer,
      audience: options.audience,
      typ: "JWT",
      algorithms: options.algorithms ?? ALGORITHMS,
      requiredClaims: ["sub", "sid", "iat", "exp"],
      clockTolerance: options.clockTolerance,
    }));
  } catch (error) {
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === "iss" && error.reason === "check_failed") {
      throw issuerMismatch(error, issuer);
    }
    throw error;
  }
  const aal = typeof payload.aal === "number" ? payload.aal : 1;
  const minAal = options.minAal ?? 1;
  if (aal < minAal) {
    throw new errors.JWTClaimValidationFailed(`"aal" claim is ${aal}, below the ${minAal} required`, payload, "aal", "check_failed");
  }
  return { ...payload, aal } as AccessTokenClaims;
}

/**
 * jose's `unexpected "iss" claim value`, naming both issuers. The usual cause is another
 * spelling of gatehouse's address than its own (`http://localhost:8080` for
 * `http://127.0.0.1:8080`): the issuer is compared as text.
 */
function issuerMismatch(error: errors.JWTClaimValidationFailed, expected: string): errors.JWTClaimValidationFailed {
  const message =
    `unexpected "iss" claim value: the token's issuer is ${JSON.stringify(error.payload.iss)}, ` +
    `this verifier expects ${JSON.stringify(expected)} (pass the issuer exactly as gatehouse's ` +
    `/.well-known/openid-configuration spells it)`;
  return new errors.JWTClaimValidationFailed(message, error.payload, "iss", error.reason);
}

/** A verifier bound to its options: `const verify = createVerifier({ issuer, audience }); await verify(token)`. */
export function createVerifier(options: VerifyOptions): (token: string) => Promise<AccessTokenClaims> {
  return (token) => verifyAccessToken(token, options);
}

/** The token of an `Authorization: Bearer …` header, or `null`. */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization ?? "");
  return match ? match[1]! : null;
}
