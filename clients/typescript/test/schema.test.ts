// src/schema.d.ts is generated from the repository's openapi.json by `npm run generate`. This
// test generates it again, into a temporary file, with the very command of that script, and
// fails when the committed file differs: a change to the API without `npm run generate`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url)); // clients/typescript/ (from build/test/)

test("src/schema.d.ts is what openapi-typescript makes of ../../openapi.json", async () => {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const [command, ...args] = (manifest.scripts.generate ?? "").split(/\s+/);
  assert.equal(command, "openapi-typescript", "the generate script runs openapi-typescript");
  const output = args.indexOf("--output");
  assert.ok(output >= 0 && args[output + 1] === "src/schema.d.ts", "the generate script writes src/schema.d.ts");

  const dir = await mkdtemp(join(tmpdir(), "gatehouse-schema-"));
  try {
    const fresh = join(dir, "schema.d.ts");
    args[output + 1] = fresh;
    await promisify(execFile)(join(root, "node_modules", ".bin", "openapi-typescript"), args, { cwd: root });
    const committed = await readFile(join(root, "src", "schema.d.ts"), "utf8");
    const generated = await readFile(fresh, "utf8");
    assert.ok(
      committed === generated,
      "src/schema.d.ts is out of date with openapi.json: run `npm run generate` in clients/typescript and commit it",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
