// An Apollo Gateway (@apollo/gateway, served by @apollo/server) in front of the hub and other
// subgraphs, on a free loopback port.
//
// Configuration is one JSON argument:
//   {"subgraphs": [{"name": "hub", "url": "http://127.0.0.1:…/graphql", "forwardAuthorization": true}, …],
//    "introspectionAuthorization": "Bearer hub1…"}
// The gateway composes the supergraph itself from each subgraph's `_service { sdl }`
// (IntrospectAndCompose); the hub answers only callers with a token, so that introspection
// carries `introspectionAuthorization`. Every client request's Authorization header is passed on
// to the subgraphs marked `forwardAuthorization` (RemoteGraphQLDataSource.willSendRequest), so
// the hub applies the client's own scope. Once listening it prints one JSON line:
//   {"url": "http://127.0.0.1:PORT/"}
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';

const config = JSON.parse(process.argv[2] ?? '{}');
const forwarding = new Set(config.subgraphs.filter((s) => s.forwardAuthorization).map((s) => s.name));

class ForwardingDataSource extends RemoteGraphQLDataSource {
  constructor(options, name) {
    super(options);
    this.subgraphName = name;
  }

  willSendRequest({ request, context }) {
    if (forwarding.has(this.subgraphName) && context?.authorization) {
      request.http.headers.set('authorization', context.authorization);
    }
  }
}

const headers = config.introspectionAuthorization ? { authorization: config.introspectionAuthorization } : {};
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: config.subgraphs.map(({ name, url }) => ({ name, url })),
    introspectionHeaders: headers,
  }),
  buildService: ({ name, url }) => new ForwardingDataSource({ url }, name),
});

const server = new ApolloServer({ gateway, introspection: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
process.stdout.write(JSON.stringify({ url }) + '\n');

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
