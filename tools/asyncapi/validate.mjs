// Parses an AsyncAPI document with the official parser; exits 1 with its diagnostics on any error.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi.yaml|json>");
  process.exit(2);
}

const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"), { source: path });
const severity = (level) => Object.keys(DiagnosticSeverity).find((name) => DiagnosticSeverity[name] === level);
const shown = (diagnostic) => `${severity(diagnostic.severity)} ${diagnostic.code} at ${diagnostic.path.join(".") || "(root)"}: ${diagnostic.message}`;
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
for (const diagnostic of [...errors, ...warnings]) console.error(shown(diagnostic));
if (document === undefined || errors.length > 0) {
  console.error(`${path}: ${errors.length} error(s); not a valid AsyncAPI document`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.allMessages().length} messages, ${warnings.length} warning(s)`);
