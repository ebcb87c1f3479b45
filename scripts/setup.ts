// Installs or builds everything the harness runs (Debian packages, moto, the Kubernetes
// control plane, kwok, helm). Slow once, then cached; `npm test` and `npm start` run it too.
import { installHarness, selectedComponents } from '@reservations/testkit';

await installHarness(selectedComponents());
