/**
 * gatehouse-middleware/express: Express middleware (Express 4 and 5).
 *
 *   import { gatehouse } from "gatehouse-middleware/express";
 *   app.use("/api", gatehouse({ issuer: "https://auth.example.com" }));
 *   app.get("/api/me", (req, res) => res.json({ id: req.auth.accountId }));
 *
 * A request with a valid token goes on with `req.auth` (and `res.locals.auth`) set; any other
 * is answered here: `401`, `403`, `503` or `500` with a problem document as gatehouse answers.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";

import { GatehouseError } from "./errors.js";
import { createVerifier, type GatehouseAuth, type GatehouseOptions } from "./verifier.js";

export { GatehouseError } from "./errors.js";
export type { GatehouseErrorCode, GatehouseErrorReason, Problem } from "./errors.js";
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

export default gatehouse;
