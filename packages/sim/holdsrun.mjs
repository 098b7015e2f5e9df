// node holdsrun.mjs FROM TO : runs the swarm seeds in [FROM, TO] that draw holds; prints failures.
import { randomScenario, runSimulation } from '@allot/sim';

const [from, to] = process.argv.slice(2).map(Number);
let ran = 0;
for (let s = from; s <= to; s++) {
  const sc = randomScenario(s);
  if (!sc.tenants.some((t) => t.holds)) continue;
  ran += 1;
  if (process.env.PROGRESS) console.error('seed', s);
  try {
    const r = await runSimulation(sc, s);
    const bad = r.verdicts.filter((v) => !v.holds);
    if (bad.length > 0) console.log(s, bad.map((v) => `${v.invariant}: ${v.first?.detail}`).join('; '));
  } catch (e) {
    console.log(s, 'threw', String(e).slice(0, 300));
  }
}
console.log('ran', ran);
