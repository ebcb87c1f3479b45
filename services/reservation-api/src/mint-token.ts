// Mints a bearer token for local use: node src/mint-token.ts <role> <subject> [ttl-seconds]
// Signs with JWT_SECRET (HS256) as JWT_ISSUER for JWT_AUDIENCE, the settings the services verify with.
import { createTokenMinter } from '@reservations/service-kit/token-minter';

const [role, sub, ttl = '3600'] = process.argv.slice(2);
const { JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = process.env;
if (!role || !sub || !['customer', 'provider', 'admin'].includes(role) || !secret || !issuer || !audience) {
  process.stderr.write(
    'usage: JWT_SECRET=… JWT_ISSUER=… JWT_AUDIENCE=… node src/mint-token.ts customer|provider|admin <subject> [ttl-seconds]\n',
  );
  process.exit(2);
}
process.stdout.write(`${createTokenMinter({ issuer, audience, key: { secret }, ttlSeconds: Number(ttl) })({ sub, role })}\n`);
