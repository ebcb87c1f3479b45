// The harness's database as a deployment has it: migrated by the schema's owner, then each
// service's own account granted its tables (what `npm run grant` does in install.md), so the
// platforms' services run as their own accounts, as they do on EKS.
import { type DbService, grantServiceUsers, migrateToLatest } from '@reservations/database';
import { asDbAccount, DATABASE, type HarnessEnv, SERVICE_DB_ACCOUNTS, serviceDbAccounts, waitForReplica } from '@reservations/testkit';

export type ServiceDbUrls = (service: DbService) => { MYSQL_PRIMARY_URL: string; MYSQL_REPLICA_URL: string };

/** Migrates and grants; returns each service's URLs, as its own account, for its environment. */
export async function prepareDatabase(env: HarnessEnv): Promise<ServiceDbUrls> {
  const need = (name: 'MYSQL_PRIMARY_URL' | 'MYSQL_REPLICA_URL' | 'MYSQL_PRIMARY_ADMIN_URL' | 'MYSQL_REPLICA_ADMIN_URL') => {
    const value = env[name];
    if (!value) throw new Error(`the harness exported no ${name}: start it with the mysql component`);
    return value;
  };
  await migrateToLatest(need('MYSQL_PRIMARY_URL'));
  const owner = new URL(need('MYSQL_PRIMARY_ADMIN_URL'));
  owner.pathname = `/${DATABASE}`;
  await grantServiceUsers(owner.toString(), serviceDbAccounts());
  // query-api checks the schema on the replica at boot, as its account: the grants must be there.
  await waitForReplica({ MYSQL_PRIMARY_ADMIN_URL: owner.toString(), MYSQL_REPLICA_ADMIN_URL: need('MYSQL_REPLICA_ADMIN_URL') });
  return (service) => ({
    MYSQL_PRIMARY_URL: asDbAccount(need('MYSQL_PRIMARY_URL'), SERVICE_DB_ACCOUNTS[service]),
    MYSQL_REPLICA_URL: asDbAccount(need('MYSQL_REPLICA_URL'), SERVICE_DB_ACCOUNTS[service]),
  });
}
