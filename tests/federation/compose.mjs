// Compose subgraph SDLs with Apollo's own composition: stdin [{name, url, sdl}] -> stdout JSON.
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { readFileSync } from "node:fs";

const services = JSON.parse(readFileSync(0, "utf8")).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composeServices(services);
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map((e) => e.message),
    hints: (result.hints ?? []).map((h) => ({ code: h.definition.code, message: h.message })),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
