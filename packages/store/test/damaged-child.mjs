// Child process of damaged-tables.test.ts: `plain <dir>` writes keys over the tenant index of a data
// directory and compacts it with LevelDB alone; `store <dir>` opens it as LevelStore. Prints one line.
import { LAYOUT_PREFIX, LevelStore } from '@allot/store';
import { Level } from 'level';

const [mode, dir] = process.argv.slice(2);
if (mode === 'plain') {
  const db = new Level(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const puts = Array.from({ length: 2_000 }, (_, i) => ({
    type: 'put',
    key: `${LAYOUT_PREFIX}tenant/acme/${String(i).padStart(16, '0')}x`,
    value: new Uint8Array(8),
  }));
  await db.batch(puts);
  await db.compactRange('\u0000', '\uffff');
  await db.close();
  console.log('compacted');
} else {
  try {
    const store = await LevelStore.open(dir);
    await store.close();
    console.log('opened');
  } catch (error) {
    console.log(`refused: ${error.message}`);
  }
}
