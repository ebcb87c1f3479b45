import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Fastify's default Ajv strips unknown fields (`removeAdditional`) and coerces `"3"` to 3 in
 * bodies; this API rejects both. Query strings, params and headers arrive as strings and still
 * need coercion, so they get a second, coercing instance. `allErrors` reports every offending
 * field at once.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };
  const strictBody = addFormats.default(new Ajv({ ...common, coerceTypes: false }));
  const coercing = addFormats.default(new Ajv({ ...common, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? strictBody : coercing).compile(schema as object);
}
