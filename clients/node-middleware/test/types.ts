// What a TypeScript app sees of the package: compiled with `tsc --noEmit` against dist/ by
// test/run.sh (through the package's own name and exports, as an app imports it). Nothing runs.
import { createServer } from "node:http";

import express from "express";
import Fastify from "fastify";

import {
  createVerifier,
  GatehouseError,
  metadataDocument,
  type GatehouseAuth,
  type GatehouseOptions,
  type ResourceMetadata,
} from "gatehouse-middleware";
import { gatehouse as expressGatehouse, resourceMetadata } from "gatehouse-middleware/express";
import { gatehouse as fastifyGatehouse, gatehouseHook, resourceMetadata as fastifyMetadata } from "gatehouse-middleware/fastify";
import { gatehouse as httpGatehouse, resourceMetadata as httpMetadata, sendError } from "gatehouse-middleware/http";

const options: GatehouseOptions = { issuer: "https://auth.example.com", requireAal: 2, live: "user", audience: ["a", "b"] };

// Express: req.auth and res.locals.auth are typed.
const app = express();
const protect = expressGatehouse(options);
app.use("/api", protect);
app.get("/api/me", (req, res) => {
  const id: string | undefined = req.auth?.accountId;
  const aal: number | undefined = res.locals.auth?.aal;
  const slug: string | undefined = req.auth?.org?.slug;
  const plan: unknown = req.auth?.appData.plan;
  const sid: string | undefined = req.auth?.claims.sid;
  res.json({ id, aal, slug, plan, sid });
});
const started: Promise<void> = protect.ready();

// Fastify: the plugin and the per-route hook; request.auth is typed.
const fastify = Fastify();
fastify.register(async (api) => {
  await api.register(fastifyGatehouse, { issuer: "https://auth.example.com" });
  api.get("/me", async (request) => ({ email: request.auth?.email }));
});
fastify.get("/pay", { onRequest: gatehouseHook({ issuer: "https://auth.example.com", live: "user" }) }, async (request) => {
  const auth: GatehouseAuth | null = request.auth;
  return { role: auth?.role };
});

// node:http: protect() gives handlers req.auth; authenticate() throws GatehouseError.
const auth = httpGatehouse({ issuer: "https://auth.example.com" });
createServer(auth.protect((req, res) => res.end(req.auth.email)));
createServer(async (req, res) => {
  try {
    const who: GatehouseAuth = await auth.authenticate(req);
    res.end(who.accountId);
  } catch (error) {
    if (error instanceof GatehouseError) {
      const status: number = error.status;
      const code: "unauthorized" | "mfa_enrolment_required" | "insufficient_aal" | "forbidden" | "unavailable" | "internal_error" = error.code;
      void status;
      void code;
      sendError(res, error);
    } else throw error;
  }
});

// Any other framework: the verifier itself.
const verifier = createVerifier({ issuer: "https://auth.example.com" });
const verified: Promise<GatehouseAuth> = verifier.authenticate("Bearer x");
void started;
void verified;

// A protected resource: its options, the client's side of req.auth, its metadata in each entry point.
const mcp: GatehouseOptions = {
  issuer: "https://auth.example.com",
  resource: "https://mcp.example.com/mcp",
  resourceScopes: ["mcp:tools", "mcp:admin"],
  resourceName: "Tools",
};
app.use(resourceMetadata(mcp));
app.post("/mcp", expressGatehouse({ ...mcp, scopes: ["mcp:admin"] }), (req, res) => {
  const isClient: boolean | undefined = req.auth?.isClient;
  const clientId: string | undefined = req.auth?.clientId;
  const scopes: string[] | undefined = req.auth?.scopes;
  const subject: string | undefined = req.auth?.subject;
  res.json({ isClient, clientId, scopes, subject });
});
fastify.register(fastifyMetadata, mcp);
const metadata = httpMetadata(mcp);
createServer((req, res) => metadata(req, res) || auth.protect((r, s) => s.end(r.auth.scopes.join(" ")))(req, res));
const resource = createVerifier(mcp).resource;
const document: ResourceMetadata | undefined = resource && metadataDocument(resource, "https://auth.example.com");
const refusal = (error: GatehouseError): string | undefined => error.challenge?.resourceMetadata;
void document;
void refusal;

// @ts-expect-error scopes are a list
createVerifier({ ...mcp, scopes: "mcp:admin" });
// @ts-expect-error requireAal is 1 or 2
createVerifier({ issuer: "https://auth.example.com", requireAal: 3 });
// @ts-expect-error live is false or "user"
createVerifier({ issuer: "https://auth.example.com", live: "introspect" });
