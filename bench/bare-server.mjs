// The baseline of bench:http: a bare fastify route that does the same JSON parse and an in-memory
// decrement, nothing durable, no auth, no idempotency. Prints its URL when listening.
import Fastify from 'fastify';

const balances = new Map([['acme', Number.MAX_SAFE_INTEGER]]);
const app = Fastify({ logger: false });
app.post('/v1/tenants/:tenant/debits', async (request, reply) => {
  const { tenant } = request.params;
  const { amount } = request.body;
  const balance = balances.get(tenant) ?? 0;
  if (balance < amount) return reply.code(402).send({ error: { code: 'insufficient_credits' } });
  balances.set(tenant, balance - amount);
  return reply.code(201).send({ debit: { tenant, amount }, balance: { available: balance - amount } });
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${url}`);
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
