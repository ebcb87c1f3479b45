// A second SQS endpoint for the pipeline benchmark: local-aws-sqs (an SQS server in Node) on PORT.
// It is fast but does not lock FIFO message groups, so it only stands in for SQS where each
// group has one message in flight at a time (the benchmark: one event per reservation).
import { createSqsServer } from 'local-aws-sqs';

await createSqsServer({ port: Number(process.env.PORT), hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
process.stdout.write(`local-aws-sqs on 127.0.0.1:${process.env.PORT}\n`);
