// Compose subgraph SDLs: stdin [{name, url, sdl}] -> stdout JSON {errors, hints, supergraphSdl}.
//   node compose.mjs          Apollo's own composition (@apollo/composition)
//   node compose.mjs guild    The Guild's (@theguild/federation-composition), as Hive uses
import { parse } from "graphql";
import { readFileSync } from "node:fs";

const library =
  process.argv[2] === "guild" ? "@theguild/federation-composition" : "@apollo/composition";
const { composeServices } = await import(library);
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
