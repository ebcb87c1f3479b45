import { join } from 'node:path';
import { describeErrorRegistry } from '../../service-kit/test/support/error-registry.ts';
import { problems } from '../src/errors.ts';

describeErrorRegistry(problems, join(import.meta.dirname, '..', 'src'), 'events.md');
