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
// And three of the project's own rules for Cypher that FalkorDB and Neo4j both run, which Neo4j
// does not check (source "hub-rules", read from the same parser's tree, so a string or a name
// that merely looks like them is not taken for them):
// - one pattern per MATCH: `MATCH (a), (b)` or `MATCH (a)-->(b), (b)-->(c)` must be separate
//   MATCH clauses (Neo4j only warns when the patterns are disconnected);
// - at most one property of a node or relationship removed per statement (`REMOVE n.a, n.b`,
//   `SET n.a = null, n.b = null`, `SET n += {a: null, b: null}`): FalkorDB removes the wrong
//   ones; set the whole map instead (`SET n = $map`);
// - no pattern comprehension in a WHERE (`WHERE size([(h)<-[:AT]-(c) | c]) > 0`): FalkorDB
//   refuses it; match it with OPTIONAL MATCH and collect() before the WHERE.
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

function leaves(tree) {
  return tree.children && tree.children.length ? tree.children.flatMap(leaves) : [tree.name];
}

function shown(tree) {
  return leaves(tree)
    .filter((token) => token !== '<EOF>')
    .join(' ')
    .replace(/([([{.$]) /g, '$1')
    .replace(/ ([)\]},.:])/g, '$1');
}

function visit(tree, action) {
  action(tree);
  for (const child of tree.children ?? []) visit(child, action);
}

function rule(message, tree) {
  return { severity: 'error', message, line: 1, column: 1, excerpt: shown(tree), source: 'hub-rules' };
}

function projectRules(text) {
  const found = [];
  const removed = new Map(); // node or relationship → the properties this statement removes from it
  function removes(subject, property, tree) {
    if (!removed.has(subject)) removed.set(subject, []);
    removed.get(subject).push({ property, tree });
  }
  visit(cypher.getDebugTree(text), (tree) => {
    const children = tree.children ?? [];
    if (tree.name === 'matchClause') {
      const patterns = children.find((child) => child.name === 'patternList');
      const count = (patterns?.children ?? []).filter((child) => child.name === 'pattern').length;
      if (count > 1) {
        found.push(rule(`${count} comma-separated patterns in one MATCH: give each pattern a MATCH clause of its own`, tree));
      }
    } else if (tree.name === 'whereClause') {
      visit(tree, (inner) => {
        if (inner.name === 'patternComprehension') {
          found.push(rule('a pattern comprehension in WHERE: FalkorDB refuses it; OPTIONAL MATCH the pattern and collect() it before the WHERE', inner));
        }
      });
    } else if (tree.name === 'removeItem' && children.length === 1 && children[0].name === 'expression2') {
      const tokens = leaves(children[0]);
      const dot = tokens.lastIndexOf('.');
      if (dot > 0) removes(tokens.slice(0, dot).join(''), tokens.slice(dot + 1).join(''), tree);
    } else if (tree.name === 'setItem' && children.length === 3) {
      const [target, operator, value] = children;
      const values = leaves(value);
      if (target.name === 'expression2' && operator.name === '=' && values.length === 1 && values[0].toLowerCase() === 'null') {
        const tokens = leaves(target);
        const dot = tokens.lastIndexOf('.');
        if (dot > 0) removes(tokens.slice(0, dot).join(''), tokens.slice(dot + 1).join(''), tree);
      } else if (target.name === 'variable' && operator.name === '+=') {
        values.forEach((token, i) => {
          if (token.toLowerCase() === 'null' && values[i - 1] === ':' && i >= 2) removes(leaves(target).join(''), values[i - 2], tree);
        });
      }
    }
  });
  for (const [subject, removals] of removed) {
    if (removals.length > 1) {
      const names = removals.map((r) => r.property).join(', ');
      found.push({
        ...rule(
          `removes ${removals.length} properties of ${subject} in one statement (${names}): FalkorDB removes the wrong ones; set the whole map instead (SET ${subject} = $map)`,
          removals[0].tree,
        ),
        excerpt: removals.map((r) => shown(r.tree)).join(' … '),
      });
    }
  }
  return found;
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
  if (parts.length === 1) found.push(...projectRules(text));
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
