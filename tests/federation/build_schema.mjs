// Does graphql-js accept the SDL? node build_schema.mjs <file>; exit 1 with the error if not.
import { buildSchema } from "graphql";
import { readFileSync } from "node:fs";

try {
  const schema = buildSchema(readFileSync(process.argv[2], "utf8"));
  console.log(`ok ${Object.keys(schema.getTypeMap()).length} types`);
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
