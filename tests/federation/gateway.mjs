// A federation gateway over a composed supergraph, answering at /:
//   node gateway.mjs <port> <supergraph file>        @apollo/gateway in @apollo/server
//   node gateway.mjs <port> <supergraph file> hive   Hive Gateway (@graphql-hive/gateway)
// Only the client's Authorization header is propagated to the subgraphs. Prints "ready <url>".
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const [port, supergraphFile, flavour] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}/`;
process.on("SIGTERM", () => process.exit(0)); // the test is done with it: no draining

if (flavour === "hive") {
  const { createGatewayRuntime } = await import("@graphql-hive/gateway");
  const gateway = createGatewayRuntime({
    supergraph: supergraphFile,
    graphqlEndpoint: "/",
    landingPage: false,
    propagateHeaders: {
      fromClientToSubgraphs({ request }) {
        const authorization = request.headers.get("authorization");
        return authorization ? { authorization } : {};
      },
    },
  });
  createServer(gateway).listen(Number(port), "127.0.0.1", () => console.log(`ready ${url}`));
} else {
  const { ApolloServer } = await import("@apollo/server");
  const { startStandaloneServer } = await import("@apollo/server/standalone");
  const { ApolloGateway, RemoteGraphQLDataSource } = await import("@apollo/gateway");
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(supergraphFile, "utf8"),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http.headers.set("authorization", context.authorization);
        },
      }),
  });
  const server = new ApolloServer({ gateway });
  await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: Number(port) },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  console.log(`ready ${url}`);
}
