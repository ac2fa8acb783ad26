// Lint Cypher statements with Neo4j's own front end, in Neo4j 5's dialect, in one node process.
//
//   node lint.mjs PACKAGES < statements.json > diagnostics.json
//
// PACKAGES is the folder where this folder's package.json and package-lock.json were installed
// (`npm ci`; tests/npm.py makes it); stdin is a JSON list of {"name", "text", "write"?}; stdout is a JSON
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
// And four of the project's own rules for Cypher that FalkorDB and Neo4j both run, which Neo4j
// does not check (source "hub-rules", read from the same parser's tree, so a string or a name
// that merely looks like them is not taken for them):
// - one pattern per MATCH: `MATCH (a), (b)` or `MATCH (a)-->(b), (b)-->(c)` must be separate
//   MATCH clauses (Neo4j only warns when the patterns are disconnected);
// - at most one property of a node or relationship removed per statement (`REMOVE n.a, n.b`,
//   `SET n.a = null, n.b = null`, `SET n += {a: null, b: null}`): FalkorDB removes the wrong
//   ones; set the whole map instead (`SET n = $map`);
// - no pattern comprehension in a WHERE (`WHERE size([(h)<-[:AT]-(c) | c]) > 0`): FalkorDB
//   refuses it; match it with OPTIONAL MATCH and collect() before the WHERE;
// - a statement given with "write": false changes nothing (no CREATE, MERGE, SET, REMOVE,
//   DELETE, FOREACH, nor an index or constraint command): the store sends those as read-only
//   queries (FalkorDB's GRAPH.RO_QUERY, Neo4j's read routing to a cluster's followers).
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

// The tree has no positions: its leaves are the statement's tokens in order, so each is found
// in the text from where the one before it ended (`start`, on every node: its first token's).
function place(tree, text) {
  let cursor = 0;
  (function walk(node) {
    if (!node.children || node.children.length === 0) {
      const at = node.name === '<EOF>' ? -1 : text.indexOf(node.name, cursor);
      node.start = at >= 0 ? at : cursor;
      if (at >= 0) cursor = at + node.name.length;
    } else {
      node.children.forEach(walk);
      node.start = node.children[0].start;
    }
  })(tree);
  return tree;
}

function position(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function rule(message, tree, text) {
  return { severity: 'error', message, ...position(text, tree.start ?? 0), excerpt: shown(tree), source: 'hub-rules' };
}

const WRITING = new Map([
  ['createClause', 'CREATE'], ['mergeClause', 'MERGE'], ['setClause', 'SET'], ['removeClause', 'REMOVE'],
  ['deleteClause', 'DELETE'], ['foreachClause', 'FOREACH'], ['insertClause', 'INSERT'],
  ['createCommand', 'a CREATE command'], ['dropCommand', 'a DROP command'], ['alterCommand', 'an ALTER command'],
]);

function projectRules(text, write) {
  const found = [];
  const writes = [];
  const removed = new Map(); // node or relationship → the properties this statement removes from it
  function removes(subject, property, tree) {
    if (!removed.has(subject)) removed.set(subject, []);
    removed.get(subject).push({ property, tree });
  }
  visit(place(cypher.getDebugTree(text), text), (tree) => {
    const children = tree.children ?? [];
    if (WRITING.has(tree.name) && !writes.some((w) => w.kind === WRITING.get(tree.name))) {
      writes.push({ kind: WRITING.get(tree.name), tree });
    }
    if (tree.name === 'matchClause') {
      const patterns = children.find((child) => child.name === 'patternList');
      const count = (patterns?.children ?? []).filter((child) => child.name === 'pattern').length;
      if (count > 1) {
        found.push(rule(`${count} comma-separated patterns in one MATCH: give each pattern a MATCH clause of its own`, tree, text));
      }
    } else if (tree.name === 'whereClause') {
      visit(tree, (inner) => {
        if (inner.name === 'patternComprehension') {
          found.push(rule('a pattern comprehension in WHERE: FalkorDB refuses it; OPTIONAL MATCH the pattern and collect() it before the WHERE', inner, text));
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
  if (write === false && writes.length > 0) {
    found.push({
      ...rule(`declared a read but writes (${writes.map((w) => w.kind).join(', ')}): it would be sent read-only; declare it a write`, writes[0].tree, text),
    });
  }
  for (const [subject, removals] of removed) {
    if (removals.length > 1) {
      const names = removals.map((r) => r.property).join(', ');
      found.push({
        ...rule(
          `removes ${removals.length} properties of ${subject} in one statement (${names}): FalkorDB removes the wrong ones; set the whole map instead (SET ${subject} = $map)`,
          removals[0].tree,
          text,
        ),
        excerpt: removals.map((r) => shown(r.tree)).join(' … '),
      });
    }
  }
  return found;
}

function lint(text, write) {
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
  if (parts.length === 1) found.push(...projectRules(text, write));
  return found;
}

let statements;
try {
  statements = JSON.parse(readFileSync(0, 'utf8'));
} catch (error) {
  fail(`stdin is not JSON: ${error.message}`);
}
if (!Array.isArray(statements)) fail('stdin must be a JSON list of {"name", "text", "write"?}');
statements.forEach((s, i) => {
  if (s === null || typeof s !== 'object' || typeof s.name !== 'string' || typeof s.text !== 'string' ||
      !(s.write === undefined || typeof s.write === 'boolean')) {
    fail(`item ${i} of stdin is not {"name": string, "text": string, "write"?: boolean}: ${JSON.stringify(s)}`);
  }
});

const answer = statements.map(({ name, text, write }) => {
  try {
    return { name, diagnostics: lint(text, write) };
  } catch (error) {
    return { name, diagnostics: [own(`the linter failed on this statement: ${error.stack ?? error}`)] };
  }
});
process.stdout.write(JSON.stringify(answer, null, 1) + '\n');
