/**
 * gatehouse-middleware/express: Express middleware (Express 4 and 5).
 *
 *   import { gatehouse } from "gatehouse-middleware/express";
 *   app.use("/api", gatehouse({ issuer: "https://auth.example.com" }));
 *   app.get("/api/me", (req, res) => res.json({ id: req.auth.accountId }));
 *
 * A request with a valid token goes on with `req.auth` (and `res.locals.auth`) set; any other
 * is answered here: `401`, `403`, `503` or `500` with a problem document as gatehouse answers.
 *
 * A protected resource (an MCP server, an API of `GATEHOUSE_RESOURCES`) names itself, and serves
 * its metadata at the root of the app:
 *
 *   const mcp = { issuer, resource: "https://mcp.example.com/mcp", resourceScopes: ["mcp:tools", "mcp:admin"] };
 *   app.use(resourceMetadata(mcp));
 *   app.post("/mcp", gatehouse({ ...mcp, scopes: ["mcp:tools"] }), handler);
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";

import { GatehouseError } from "./errors.js";
import { metadataDocument, METADATA_HEADERS, protectedResource } from "./resource.js";
import { createVerifier, issuerOf, type GatehouseAuth, type GatehouseOptions } from "./verifier.js";

export { GatehouseError } from "./errors.js";
export type { Challenge, GatehouseErrorCode, GatehouseErrorReason, Problem } from "./errors.js";
export type { ProtectedResource, ResourceMetadata } from "./resource.js";
export type { AccessTokenClaims, GatehouseAuth, GatehouseOptions, GatehouseOrg } from "./verifier.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Who is calling: set by gatehouse-middleware on the routes it protects. */
      auth?: GatehouseAuth;
    }
    interface Locals {
      /** The same as `req.auth`, for views. */
      auth?: GatehouseAuth;
    }
  }
}

/** The middleware, with `ready()` to fail at start on a misconfigured issuer or an unreachable gatehouse. */
export type GatehouseMiddleware = RequestHandler & {
  /** Reads gatehouse's discovery document and keys now; rejects with a `GatehouseError` naming the problem. */
  ready(): Promise<void>;
};

/** A request that got through `gatehouse()`: `req.auth` is set. */
export type AuthenticatedRequest = Request & { auth: GatehouseAuth };

/**
 * Express middleware that lets a request through only with a valid gatehouse access token in
 * `Authorization: Bearer …`. Build it once per set of options: each one fetches gatehouse's keys
 * once and keeps them.
 */
export function gatehouse(options: GatehouseOptions): GatehouseMiddleware {
  const verifier = createVerifier(options);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    verifier.authenticate(req.headers.authorization).then(
      (auth) => {
        req.auth = auth;
        res.locals.auth = auth;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof GatehouseError)) return next(error);
        if (error.status >= 500) verifier.log(error);
        if (res.headersSent) return next(error);
        res.status(error.status).set(error.headers).send(JSON.stringify(error.problem));
      },
    );
  };
  return Object.assign(middleware, { ready: () => verifier.ready() });
}

/**
 * Serves the protected resource's metadata (RFC 9728) that the `resource` options describe, at
 * its path (`/.well-known/oauth-protected-resource/mcp` for `https://mcp.example.com/mcp`):
 * `app.use(resourceMetadata({ issuer, resource, resourceScopes }))`, at the root of the app and
 * before any middleware that would ask that path for a token. Other requests go on.
 */
export function resourceMetadata(options: GatehouseOptions): RequestHandler {
  const resource = protectedResource(options);
  if (!resource) throw new TypeError("gatehouse-middleware: resourceMetadata needs the resource option: the API's URL in GATEHOUSE_RESOURCES");
  const body = JSON.stringify(metadataDocument(resource, issuerOf(options)));
  return (req, res, next) => {
    if (req.path !== resource.metadataPath || (req.method !== "GET" && req.method !== "HEAD")) return next();
    res.status(200).set(METADATA_HEADERS).send(body);
  };
}

export default gatehouse;
