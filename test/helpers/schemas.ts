/**
 * The JSON Schemas in schema/, compiled with Ajv (draft 2020-12) the way an
 * editor would apply them to a YAML file: parse the YAML, validate the value.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import { parse } from "yaml";

export const SCHEMA_DIR = "schema";
export const SCHEMA_FILES = {
  config: "guardpost.config.schema.json",
  acl: "guardpost.acl.schema.json",
  policyTest: "guardpost.policy-test.schema.json",
} as const;
export type SchemaKind = keyof typeof SCHEMA_FILES;

/** A JSON Schema as plain data, for walking it. */
export type SchemaNode = { readonly [keyword: string]: unknown };

export function readSchema(kind: SchemaKind): SchemaNode {
  return JSON.parse(readFileSync(`${SCHEMA_DIR}/${SCHEMA_FILES[kind]}`, "utf8")) as SchemaNode;
}

// strictRequired is off because `oneOf: [{required: [peer]}, {required: [peerCert]}]`
// (exactly one of two keys) names keys its own subschema does not define.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
// Registered under their file names, so the config schema's relative
// `$ref: guardpost.acl.schema.json#/...` resolves here as it does next to the file.
for (const name of readdirSync(SCHEMA_DIR)) ajv.addSchema(JSON.parse(readFileSync(`${SCHEMA_DIR}/${name}`, "utf8")) as object, name);

/** Ajv's errors for `value`, or an empty list when it is valid. */
export function schemaErrors(kind: SchemaKind, value: unknown): ErrorObject[] {
  const validate = ajv.getSchema(SCHEMA_FILES[kind])!;
  return validate(value) ? [] : [...(validate.errors ?? [])];
}

export function schemaAccepts(kind: SchemaKind, value: unknown): boolean {
  return schemaErrors(kind, value).length === 0;
}

/** YAML text as our loaders read it (YAML 1.2 core schema), before validation. */
export function parseYaml(text: string): unknown {
  return parse(text, { uniqueKeys: true, strict: true, logLevel: "error" });
}

/** Ajv's errors in one line each, for failure messages. */
export function formatErrors(errors: readonly ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`).join("\n");
}
