// Mints a bearer token for local use: node src/mint-token.ts <role> <subject> [ttl-seconds]
// Signs with JWT_SECRET (HS256), the same secret the services verify with.
import { createSigner } from 'fast-jwt';

const [role, sub, ttl = '3600'] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!role || !sub || !['customer', 'provider', 'admin'].includes(role) || !secret) {
  process.stderr.write('usage: JWT_SECRET=… node src/mint-token.ts customer|provider|admin <subject> [ttl-seconds]\n');
  process.exit(2);
}
process.stdout.write(`${createSigner({ key: secret, algorithm: 'HS256', expiresIn: Number(ttl) * 1000 })({ sub, role })}\n`);
