import { Ajv, type FormatDefinition, type Options } from 'ajv';
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
  const strictBody = withFormats(new Ajv({ ...common, coerceTypes: false }));
  const coercing = withFormats(new Ajv({ ...common, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? strictBody : coercing).compile(schema as object);
}

const dateTime = addFormats.default.get('date-time') as FormatDefinition<string>;
const rfc3339 = (() => {
  const { validate } = dateTime;
  if (typeof validate !== 'function') throw new Error("ajv-formats' date-time is no longer a function: isInstant needs another look");
  return (value: string) => validate(value) === true;
})();

/** The instants the databases can hold: MySQL's DATETIME range, in UTC. */
export const EARLIEST_INSTANT = Date.UTC(1000, 0, 1);
export const LATEST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * `date-time` is RFC 3339 and also an instant JavaScript and the database can hold: RFC 3339
 * allows a leap second (`23:59:60`), which `Date` cannot represent, and any four-digit year with
 * any offset, so `0000-01-01T00:00:00Z` or `9999-12-31T23:59:59-01:00` (the year 10000 in UTC)
 * would pass the schema and fail later as an invalid date or a value MySQL's DATETIME refuses.
 * Here each is a 400 naming the field, like any other bad instant.
 */
export function isInstant(value: string): boolean {
  if (!rfc3339(value)) return false;
  const t = Date.parse(value);
  return t >= EARLIEST_INSTANT && t <= LATEST_INSTANT;
}

function withFormats(ajv: Ajv): Ajv {
  addFormats.default(ajv);
  return ajv.addFormat('date-time', { type: 'string', validate: isInstant, ...(dateTime.compare ? { compare: dateTime.compare } : {}) });
}
