// Composes subgraph SDLs into a supergraph with Apollo's own composition (@apollo/composition).
//
// stdin: JSON [{"name": "hub", "url": "http://…/graphql", "sdl": "…"}, …]
// stdout: JSON {"ok": true, "supergraphSdl": "…", "hints": […]}
//      or JSON {"ok": false, "errors": [{"code": "…", "message": "…"}, …]}
// Exit status 0 when it composes, 1 when it does not, 2 when the input is unusable.
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let services;
try {
  services = JSON.parse(Buffer.concat(chunks).toString('utf8')).map(({ name, url, sdl }) => ({
    name,
    url,
    typeDefs: parse(sdl),
  }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, errors: [{ code: 'BAD_INPUT', message: String(error) }] }));
  process.exit(2);
}
const result = composeServices(services);
if (result.errors) {
  const errors = result.errors.map((error) => ({ code: error.extensions?.code ?? null, message: error.message }));
  process.stdout.write(JSON.stringify({ ok: false, errors }));
  process.exit(1);
}
const hints = (result.hints ?? []).map((hint) => ({ code: hint.definition?.code ?? null, message: hint.message }));
process.stdout.write(JSON.stringify({ ok: true, supergraphSdl: result.supergraphSdl, hints }));
