import { join } from 'node:path';
import { kitProblems } from '@reservations/service-kit';
import { describeErrorRegistry } from '@reservations/testkit/error-registry';
import { problems } from '../src/errors.ts';

describeErrorRegistry(problems, kitProblems, join(import.meta.dirname, '..', 'src'));
