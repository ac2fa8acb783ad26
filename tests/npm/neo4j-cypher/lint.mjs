// Lint Cypher statements with Neo4j's own front end, in Neo4j 5's dialect, in one node process.
//
//   node lint.mjs PACKAGES < statements.json > diagnostics.json
//
// PACKAGES is the folder where this folder's package.json and package-lock.json were installed
// (`npm ci`; tests/npm.py makes it); stdin is a JSON list of {"name", "text"}; stdout is a JSON
// list, in the same order, of {"name", "diagnostics": [{"severity", "message", "line", "column",
// "excerpt", "source"}]} where line and column are 1-based and severity is "error", "warning",
// "information" or "hint".
//
// The diagnostics are those of `lintCypherQuery` (the ANTLR parser, then the semantic analysis
// of Neo4j's Cypher 5 front end: undefined variables, type errors, deprecations, the
// cartesian-product warning for disconnected MATCH patterns, ...) with its database schema set
// to Neo4j 5's built-in functions and procedures (the package's own list, taken from a real
// server; APOC and GDS left out), so a function or procedure Neo4j does not have is an error
// too. Only its "Parameter $x is not defined." notices are dropped: our statements take every
// value as a parameter, given at run time. Two more checks are this script's own
// (source "lint.mjs"): a text must be non-empty and must hold exactly one statement.
//
// Exit status 0 when every statement was linted (whatever it found), 2 on bad input.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function fail(message) {
  process.stderr.write(`lint.mjs: ${message}\n`);
  process.exit(2);
}

const packages = process.argv[2];
if (!packages) fail('usage: node lint.mjs PACKAGES < statements.json (PACKAGES: where npm ci installed this folder)');
const require = createRequire(join(packages, 'package.json'));
const cypher = require('@neo4j-cypher/language-support');

const DIALECT = 'CYPHER 5';
const OTHER_VENDORS = /^(apoc|gds)\./;

function builtIn(registry) {
  return Object.fromEntries(Object.entries(registry).filter(([name]) => !OTHER_VENDORS.test(name)));
}

const known = cypher.testData.mockSchema;
const SCHEMA = {
  defaultLanguage: DIALECT,
  functions: { [DIALECT]: builtIn(known.functions[DIALECT]) },
  procedures: { [DIALECT]: builtIn(known.procedures[DIALECT]) },
};

const SEVERITY = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };

function own(message) {
  return { severity: 'error', message, line: 1, column: 1, excerpt: '', source: 'lint.mjs' };
}

function lint(text) {
  if (text.trim() === '') return [own('the statement is empty')];
  const found = [];
  const parts = cypher.parseStatementsStrs(text).filter((part) => part.replace(/;\s*$/, '').trim() !== '');
  if (parts.length !== 1) {
    found.push(own(`the text holds ${parts.length} statements; each must be sent (and declared) on its own`));
  }
  const { diagnostics } = cypher.lintCypherQuery(text, SCHEMA, { consoleCommandsEnabled: false });
  for (const d of diagnostics.filter(cypher.isNotParamError)) {
    found.push({
      severity: SEVERITY[d.severity] ?? String(d.severity),
      message: d.message,
      line: d.range.start.line + 1,
      column: d.range.start.character + 1,
      excerpt: text.slice(d.offsets.start, d.offsets.end),
      source: 'neo4j',
    });
  }
  return found;
}

let statements;
try {
  statements = JSON.parse(readFileSync(0, 'utf8'));
} catch (error) {
  fail(`stdin is not JSON: ${error.message}`);
}
if (!Array.isArray(statements)) fail('stdin must be a JSON list of {"name", "text"}');
statements.forEach((s, i) => {
  if (s === null || typeof s !== 'object' || typeof s.name !== 'string' || typeof s.text !== 'string') {
    fail(`item ${i} of stdin is not {"name": string, "text": string}: ${JSON.stringify(s)}`);
  }
});

const answer = statements.map(({ name, text }) => {
  try {
    return { name, diagnostics: lint(text) };
  } catch (error) {
    return { name, diagnostics: [own(`the linter failed on this statement: ${error.stack ?? error}`)] };
  }
});
process.stdout.write(JSON.stringify(answer, null, 1) + '\n');
