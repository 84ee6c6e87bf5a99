// The floor: a bare NATS responder on its own connection and process, answering every request
// on `subject` (queue group `queue`) with a fixed reply the size of a worker's real reply.
// argv: <nats url> <subject> <queue> <reply, base64>
import { connect } from '@nats-io/transport-node';

const [url, subject, queue, replyBase64] = process.argv.slice(2);
const reply = Buffer.from(replyBase64, 'base64');
const nc = await connect({ servers: url, name: 'authz-bench-echo', noAsyncTraces: true });
nc.subscribe(subject, {
  queue,
  callback: (err, msg) => {
    if (!err) msg.respond(reply);
  },
});
await nc.flush();
process.stdout.write('READY\n');
const stop = () => nc.drain().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
