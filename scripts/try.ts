import { startKubeControlPlane } from './harness/kube.ts';
import { runDir } from './harness/paths.ts';
import { stopServers } from './harness/proc.ts';

const dir = runDir();
console.log(dir);
const k = await startKubeControlPlane(dir);
console.log(k.env);
if (process.env.HOLD) await new Promise((r) => setTimeout(r, Number(process.env.HOLD)));
await stopServers(k.servers);
