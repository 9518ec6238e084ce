/**
 * gatehouse-middleware: protect an API's routes with gatehouse access tokens.
 *
 *   gatehouse-middleware/express   Express middleware: `app.use('/api', gatehouse({ issuer }))`
 *   gatehouse-middleware/fastify   a Fastify plugin: `app.register(gatehouse, { issuer })`
 *   gatehouse-middleware/http      plain `node:http`: `authenticate(req)` and a `protect` wrapper
 *
 * This entry point is what they share: `createVerifier` for any other framework, the options,
 * the shape of `req.auth`, and `GatehouseError`; for a protected resource served otherwise,
 * `metadataDocument(verifier.resource, verifier.issuer)` and `canonicalResource`.
 */
export { createVerifier } from "./verifier.js";
export type { AccessTokenClaims, GatehouseAuth, GatehouseOptions, GatehouseOrg, Verifier } from "./verifier.js";
export { canonicalResource, metadataDocument } from "./resource.js";
export type { ProtectedResource, ResourceMetadata } from "./resource.js";
export { GatehouseError } from "./errors.js";
export type { Challenge, GatehouseErrorCode, GatehouseErrorReason, Problem } from "./errors.js";
