/**
 * gatehouse-middleware/http: plain `node:http` (and anything built on its request objects).
 *
 *   import { createServer } from "node:http";
 *   import { gatehouse } from "gatehouse-middleware/http";
 *
 *   const auth = gatehouse({ issuer: "https://auth.example.com" });
 *   createServer(auth.protect((req, res) => res.end(`hello ${req.auth.email}`))).listen(3000);
 *
 *   // or by hand, in a handler of your own:
 *   const who = await auth.authenticate(req);   // throws a GatehouseError
 *
 * A protected resource (an MCP server, an API of `GATEHOUSE_RESOURCES`) names itself, and serves
 * its metadata before anything else:
 *
 *   const mcp = { issuer, resource: "https://mcp.example.com/mcp", resourceScopes: ["mcp:tools"] };
 *   const metadata = resourceMetadata(mcp);
 *   const protect = gatehouse(mcp).protect(handler);
 *   createServer((req, res) => metadata(req, res) || protect(req, res));
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import { GatehouseError } from "./errors.js";
import { metadataDocument, METADATA_HEADERS, protectedResource } from "./resource.js";
import { createVerifier, issuerOf, type GatehouseAuth, type GatehouseOptions } from "./verifier.js";

export { GatehouseError } from "./errors.js";
export type { Challenge, GatehouseErrorCode, GatehouseErrorReason, Problem } from "./errors.js";
export type { ProtectedResource, ResourceMetadata } from "./resource.js";
export type { AccessTokenClaims, GatehouseAuth, GatehouseOptions, GatehouseOrg } from "./verifier.js";

/** A request that got through `protect`: `req.auth` is set. */
export type AuthenticatedRequest<Request extends IncomingMessage = IncomingMessage> = Request & { auth: GatehouseAuth };

/** What `gatehouse()` gives for plain `node:http`. */
export interface HttpGatehouse {
  /**
   * The caller of a request: verifies the token of its `Authorization: Bearer …` header and
   * returns what it says, or throws a `GatehouseError` (`status`, `code`, `problem`, `headers`).
   */
  authenticate(req: IncomingMessage): Promise<GatehouseAuth>;
  /**
   * Wraps a request listener: it is called with `req.auth` set only for a valid token; any other
   * request is answered with the error's problem document. An error thrown by the handler is
   * logged and answered `500`, unless it had answered already.
   */
  protect<Request extends IncomingMessage = IncomingMessage, Response extends ServerResponse = ServerResponse>(
    handler: (req: AuthenticatedRequest<Request>, res: Response) => unknown,
  ): (req: Request, res: Response) => void;
  /** Answers a request with a `GatehouseError` (its status, headers and problem document). */
  sendError(res: ServerResponse, error: GatehouseError): void;
  /** Reads gatehouse's discovery document and keys now; rejects with a `GatehouseError` naming the problem. */
  ready(): Promise<void>;
}

/** Answers with a `GatehouseError`: its status, its headers, its problem document. */
export function sendError(res: ServerResponse, error: GatehouseError): void {
  const body = JSON.stringify(error.problem);
  res.writeHead(error.status, { ...error.headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Token verification for plain `node:http`. Build it once per set of options. */
export function gatehouse(options: GatehouseOptions): HttpGatehouse {
  const verifier = createVerifier(options);
  return {
    authenticate: (req) => verifier.authenticate(req.headers.authorization),
    protect: (handler) => (req, res) => {
      verifier.authenticate(req.headers.authorization).then(
        async (auth) => {
          const authenticated = req as AuthenticatedRequest<typeof req>;
          authenticated.auth = auth;
          try {
            await handler(authenticated, res);
          } catch (error) {
            console.error("gatehouse-middleware: the protected handler failed:", error);
            if (!res.headersSent) sendError(res, new GatehouseError("internal_error", "internal", "The handler failed."));
            else res.destroy();
          }
        },
        (error: unknown) => {
          const refusal =
            error instanceof GatehouseError
              ? error
              : new GatehouseError("internal_error", "internal", `The verification failed: ${String(error)}`, { cause: error });
          if (refusal.status >= 500) verifier.log(refusal);
          sendError(res, refusal);
        },
      );
    },
    sendError,
    ready: () => verifier.ready(),
  };
}

/**
 * Answers the protected resource's metadata (RFC 9728) that the `resource` options describe:
 * the returned function answers `GET` (and `HEAD`) of its path
 * (`/.well-known/oauth-protected-resource/mcp` for `https://mcp.example.com/mcp`) and returns
 * `true`, and returns `false` for any other request, which it leaves alone.
 */
export function resourceMetadata(options: GatehouseOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const resource = protectedResource(options);
  if (!resource) throw new TypeError("gatehouse-middleware: resourceMetadata needs the resource option: the API's URL in GATEHOUSE_RESOURCES");
  const body = JSON.stringify(metadataDocument(resource, issuerOf(options)));
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== resource.metadataPath || (req.method !== "GET" && req.method !== "HEAD")) return false;
    res.writeHead(200, { ...METADATA_HEADERS, "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}

export default gatehouse;
