import type { ErrorObject } from 'ajv';
import envSchema from 'env-schema';
import { type Static, type TObject, type TProperties, type TSchema, Type } from 'typebox';
import type { PoolLimits } from './clients/mysql.ts';

/** Settings every service has; a service adds its own with `serviceConfig({...})`. */
export const baseConfigProperties = {
  HOST: Type.String({ default: '0.0.0.0', description: 'address the API and admin servers listen on' }),
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 3000, description: 'API port' }),
  ADMIN_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 9090, description: 'admin port: /healthz, /readyz, /metrics' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
    description: 'pino log level',
  }),
  SHUTDOWN_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 5000,
    description:
      'after SIGTERM, how long /readyz answers 503 while the API still serves, so endpoints and load balancers drop this pod first',
  }),
  DRAIN_FILE: Type.String({
    minLength: 1,
    default: '/etc/reservation/drain/connection-close',
    description:
      "the operator's drain switch: while this file says true, every response carries Connection: close; while it holds a rebalance (a fraction, since, spreadSeconds), that fraction of the older keep-alive connections is closed over the spread",
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    default: 20000,
    description: 'how long in-flight requests may take to finish after the API stops accepting; then the process exits anyway',
  }),
};

export const BaseConfig = Type.Object(baseConfigProperties);
export type BaseConfig = Static<typeof BaseConfig>;

/** Marks a setting whose value must never be printed, such as a URL with a password. */
export function secret<T extends TSchema>(schema: T): T {
  return { ...schema, writeOnly: true };
}

/** Settings of every HTTP API (what `registerApiFoundation` reads): token verification and load shedding. */
export const apiConfigProperties = {
  JWT_SECRET: Type.Optional(secret(Type.String({ minLength: 32, description: 'HS256 secret that signs bearer tokens' }))),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ pattern: 'BEGIN PUBLIC KEY', description: 'RS256 public key (PEM) of the token issuer' })),
  JWT_JWKS_URL: Type.Optional(
    Type.String({ pattern: '^https?://[^\\s]+$', description: "the token issuer's JWKS URL: its keys, picked by each token's kid" }),
  ),
  JWT_ISSUER: Type.String({ minLength: 1, description: "the `iss` every token must carry: the identity provider's issuer identifier" }),
  JWT_AUDIENCE: Type.String({
    minLength: 1,
    description: 'the `aud` every token must carry: this platform as the identity provider names it',
  }),
  JWT_MAX_TOKEN_AGE_SECONDS: Type.Integer({
    minimum: 60,
    maximum: 604800,
    default: 86400,
    description: 'a token issued (iat) longer ago than this is refused, whatever its exp',
  }),
  JWT_CLOCK_SKEW_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 30,
    description: "how far the issuer's clock may be from ours when checking exp, nbf and iat",
  }),
  JWT_JWKS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30000, default: 2000, description: 'timeout of one JWKS fetch' }),
  JWT_JWKS_COOLDOWN_MS: Type.Integer({
    minimum: 0,
    default: 30000,
    description: 'least time between two JWKS fetches caused by tokens with an unknown kid',
  }),
  JWT_JWKS_MAX_AGE_MS: Type.Integer({
    minimum: 1000,
    default: 600000,
    description: 'how long a fetched JWKS is used before it is fetched again',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'shed load (503) past this event loop delay; 0 disables',
  }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: 'the window the rate limits count in' }),
  RATE_LIMIT_READS: Type.Integer({ minimum: 1, default: 1200, description: 'GET and HEAD requests a principal may make per window' }),
  RATE_LIMIT_WRITES: Type.Integer({
    minimum: 1,
    default: 120,
    description: 'other requests (confirm, cancel, reschedule, resources, webhooks) a principal may make per window',
  }),
  RATE_LIMIT_HOLDS: Type.Integer({ minimum: 1, default: 60, description: 'reservations (holds) a principal may place per window' }),
  RATE_LIMIT_REDIS_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    maximum: 5000,
    default: 100,
    description: 'a rate limit count in Redis slower than this fails over to counting in the process',
  }),
  RATE_LIMIT_SYNC_MS: Type.Integer({
    minimum: 10,
    maximum: 5000,
    default: 100,
    description:
      "how often a process adds its rate limit counts to Redis's: across replicas a principal may exceed a limit by what they admit in this time",
  }),
  RATE_LIMIT_FALLBACK_MS: Type.Integer({
    minimum: 100,
    default: 5000,
    description: 'after a Redis failure, how long a process counts rate limits on its own before trying Redis again',
  }),
};

/**
 * Redis as an optional dependency (services keep answering from the database without it): every
 * command's timeout, and the circuit breaker that stops calling a Redis that fails.
 */
export const redisConfigProperties = {
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 10000,
    default: 250,
    description: 'a Redis command not answered within this fails (the service answers from the database instead)',
  }),
  REDIS_BREAKER_RESET_MS: Type.Integer({
    minimum: 100,
    maximum: 60000,
    default: 2000,
    description:
      'once Redis failed (half of at least 5 calls in 5 s timed out or errored), how long calls skip it before one trial call; a success closes the breaker',
  }),
};

/** A Redis client's bounds as the services' plugins take them. */
export interface RedisSettings {
  commandTimeoutMs: number;
  breakerResetMs: number;
}

export function redisSettings(config: { REDIS_COMMAND_TIMEOUT_MS: number; REDIS_BREAKER_RESET_MS: number }): RedisSettings {
  return { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, breakerResetMs: config.REDIS_BREAKER_RESET_MS };
}

/** The bounds of every MySQL pool: how many callers may wait for a connection, and how long a statement may run. */
export const mysqlPoolConfigProperties = {
  MYSQL_QUEUE_LIMIT: Type.Integer({
    minimum: 1,
    default: 100,
    description: 'requests that may wait for a connection of a pool; past it the request answers 503 with Retry-After at once',
  }),
  MYSQL_QUERY_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600000,
    default: 10000,
    description: 'a statement running longer is aborted by the server (max_statement_time); the request answers 503 with Retry-After',
  }),
};

export function poolLimits(config: { MYSQL_QUEUE_LIMIT: number; MYSQL_QUERY_TIMEOUT_MS: number }): PoolLimits {
  return { queueLimit: config.MYSQL_QUEUE_LIMIT, queryTimeoutMs: config.MYSQL_QUERY_TIMEOUT_MS };
}

/** Which requests an API logs a line for (service-kit's `requestLogLevel`); the booking APIs read these. */
export const requestLogConfigProperties = {
  LOG_REQUESTS: Type.Enum(['errors', 'all'], {
    default: 'errors',
    description: 'errors: a line only for 4xx, 5xx and slow requests (the metrics count the rest); all: a line for every request',
  }),
  LOG_SLOW_REQUEST_MS: Type.Integer({
    minimum: 1,
    default: 500,
    description: 'a request taking at least this long is logged at warn whatever its status',
  }),
};

export function serviceConfig<P extends TProperties>(properties: P) {
  return Type.Object({ ...baseConfigProperties, ...properties });
}

/** A setting is missing or malformed; the message names every offending variable on one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads `schema` from `env` (strings coerced to the declared types, defaults applied, other
 * variables ignored), or throws a ConfigError naming each bad variable.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  try {
    // env-schema mutates the schema it is given (additionalProperties), so give it a copy.
    return envSchema({ schema: structuredClone(schema) as object, data: { ...env }, env: false }) as Static<T>;
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors;
    if (!errors) throw err;
    // One complaint per variable, the first Ajv gives.
    const byVariable = new Map<string, string>();
    for (const e of errors) {
      const name = e.keyword === 'required' ? String(e.params.missingProperty) : (e.instancePath.split('/')[1] ?? '');
      if (!byVariable.has(name)) byVariable.set(name, describe(name, e, schema, env));
    }
    throw new ConfigError(`invalid configuration: ${[...byVariable.values()].join('; ')}`);
  }
}

/** The JSON Schema annotations a setting may carry (TypeBox passes them through untyped). */
type Annotated = { description?: string; writeOnly?: boolean };

function describe(name: string, error: ErrorObject, schema: TObject, env: NodeJS.ProcessEnv): string {
  const property = schema.properties[name] as Annotated | undefined;
  if (error.keyword === 'required') {
    const about = property?.description;
    return `${name} is required${about ? ` (${about})` : ''}`;
  }
  const allowed = error.keyword === 'enum' ? `must be one of ${(error.params.allowedValues as unknown[]).join(', ')}` : error.message;
  // A secret's value (a URL with a password, a key) never reaches the log.
  const shown = property?.writeOnly ? ' (value hidden)' : `=${JSON.stringify(env[name])}`;
  return `${name}${shown} ${allowed}`;
}

/** Loads the configuration, or ends the process with one line naming what is wrong. */
export function loadConfigOrExit<T extends TObject>(service: string, schema: T, env = process.env) {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(1);
  }
}
