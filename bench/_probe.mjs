import { post, startNode, TOKENS } from './support.mjs';

const node = await startNode('fsync');
for (let t = 0; t < 1000; t++)
  await post(node.url, TOKENS.admin, `/v1/tenants/t${t}/grants`, { grantId: 'bench', amount: 9_000_000_000 });
const metrics = async () =>
  (
    await (
      await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.admin}` } })
    ).text()
  )
    .split('\n')
    .filter((l) => l.startsWith('allot_commit_batch_size'))
    .map((l) => l.replace('allot_commit_batch_size', ''))
    .join(' ');
const body = (r) =>
  JSON.stringify({
    debits: Array.from({ length: 8190 }, (_, i) => ({
      tenant: `t${(r * 8190 + i) % 1000}`,
      amount: 1,
      idempotencyKey: `b-${r}-${i}`,
    })),
  });
let r = 0;
async function client() {
  while (r < 49) {
    const n = r++;
    const res = await fetch(`${node.url}/v1/debits/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.service}`, 'content-type': 'application/json' },
      body: body(n),
    });
    await res.text();
    if (n % 8 === 7) console.log(n, await metrics());
  }
}
await Promise.all([client(), client(), client(), client()]);
await node.stop();
