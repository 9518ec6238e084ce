/**
 * gatehouse-middleware/fastify: a Fastify plugin (Fastify 4 and 5).
 *
 *   import { gatehouse } from "gatehouse-middleware/fastify";
 *
 *   app.register(async (api) => {
 *     await api.register(gatehouse, { issuer: "https://auth.example.com" });
 *     api.get("/me", async (req) => ({ id: req.auth!.accountId }));   // every route of this scope is protected
 *   }, { prefix: "/api" });
 *
 * Like `fastify-plugin`, the plugin is not encapsulated: its `onRequest` hook covers the routes
 * of the scope it is registered in (register it inside a scope of its own, as above, to protect
 * part of an app). For a single route: `{ onRequest: gatehouseHook({ issuer, requireAal: 2 }) }`.
 *
 * A protected resource (an MCP server, an API of `GATEHOUSE_RESOURCES`) names itself, and serves
 * its metadata with a route of its own, registered at the root:
 *
 *   const mcp = { issuer, resource: "https://mcp.example.com/mcp", resourceScopes: ["mcp:tools", "mcp:admin"] };
 *   app.register(resourceMetadata, mcp);
 *   app.post("/mcp", { onRequest: gatehouseHook({ ...mcp, scopes: ["mcp:tools"] }) }, handler);
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";

import { GatehouseError } from "./errors.js";
import { metadataDocument, METADATA_HEADERS, protectedResource } from "./resource.js";
import { createVerifier, issuerOf, type GatehouseAuth, type GatehouseOptions, type Verifier } from "./verifier.js";

export { GatehouseError } from "./errors.js";
export type { Challenge, GatehouseErrorCode, GatehouseErrorReason, Problem } from "./errors.js";
export type { ProtectedResource, ResourceMetadata } from "./resource.js";
export type { AccessTokenClaims, GatehouseAuth, GatehouseOptions, GatehouseOrg } from "./verifier.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who is calling: set by gatehouse-middleware on the routes it protects, `null` elsewhere. */
    auth: GatehouseAuth | null;
  }
}

/** The hook's work: `request.auth`, or the refusal sent (and the reply returned, as Fastify asks of a hook that answers). */
async function check(verifier: Verifier, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  try {
    request.auth = await verifier.authenticate(request.headers.authorization);
    return undefined;
  } catch (error) {
    if (!(error instanceof GatehouseError)) throw error;
    if (error.status >= 500) verifier.log(error);
    return reply.code(error.status).headers(error.headers).send(JSON.stringify(error.problem));
  }
}

/**
 * An `onRequest` hook that lets a request through only with a valid gatehouse access token,
 * for one route: `app.get("/pay", { onRequest: gatehouseHook({ issuer, live: "user" }) }, handler)`.
 * Build it once per set of options: each one fetches gatehouse's keys once and keeps them.
 */
export function gatehouseHook(options: GatehouseOptions): ((request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>) & {
  ready(): Promise<void>;
} {
  const verifier = createVerifier(options);
  return Object.assign((request: FastifyRequest, reply: FastifyReply) => check(verifier, request, reply), {
    ready: () => verifier.ready(),
  });
}

/** The plugin: `app.register(gatehouse, { issuer })` protects every route of the scope. */
export const gatehouse: FastifyPluginAsync<GatehouseOptions> = async (fastify: FastifyInstance, options: GatehouseOptions) => {
  const verifier = createVerifier(options);
  if (!fastify.hasRequestDecorator("auth")) fastify.decorateRequest("auth", null);
  fastify.addHook("onRequest", (request, reply) => check(verifier, request, reply));
};

// What `fastify-plugin` sets: the hook belongs to the scope that registers the plugin.
Object.assign(gatehouse, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "gatehouse-middleware",
  [Symbol.for("plugin-meta")]: { name: "gatehouse-middleware", fastify: ">=4" },
});

/**
 * A plugin serving the protected resource's metadata (RFC 9728) that the `resource` options
 * describe, at its path (`GET /.well-known/oauth-protected-resource/mcp` for
 * `https://mcp.example.com/mcp`): `app.register(resourceMetadata, { issuer, resource, resourceScopes })`,
 * at the root (a prefix would move the route), outside the scope of the `gatehouse` plugin.
 */
export const resourceMetadata: FastifyPluginAsync<GatehouseOptions> = async (fastify: FastifyInstance, options: GatehouseOptions) => {
  const resource = protectedResource(options);
  if (!resource) throw new TypeError("gatehouse-middleware: resourceMetadata needs the resource option: the API's URL in GATEHOUSE_RESOURCES");
  const body = JSON.stringify(metadataDocument(resource, issuerOf(options)));
  fastify.get(resource.metadataPath, (_request, reply) => reply.code(200).headers(METADATA_HEADERS).send(body));
};

export default gatehouse;
