// The architecture as a check (STYLE.md, "Layout"): arrows point one way,
//   core ← replica ← (store, transport, sim) ← server ← cli,
// no import cycles, and no node: modules in core or replica (DESIGN.md §5).
const layer = (name) => `^packages/${name}/`;
const packageImport = (names) =>
  `^(packages/(${names.join('|')})/|node_modules/@allot/(${names.join('|')})/)`;

/** Packages each package may import: everything else under packages/ is against the arrows. */
const allowed = {
  core: [],
  replica: ['core'],
  store: ['core', 'replica'],
  transport: ['core', 'replica'],
  sim: ['core', 'replica', 'store'],
  server: ['core', 'replica', 'store', 'transport'],
  cli: ['core', 'replica', 'store', 'transport', 'sim', 'server'],
  // The client talks to a node over HTTP only: it imports no package of the node.
  client: [],
};
const all = Object.keys(allowed);

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle is a bug (STYLE.md).',
      from: {},
      to: { circular: true },
    },
    ...Object.entries(allowed).map(([name, may]) => ({
      name: `arrows-${name}`,
      severity: 'error',
      comment: `${name} may import only ${may.join(', ') || 'no other package'} (STYLE.md arrows).`,
      from: { path: layer(name) },
      to: { path: packageImport(all.filter((other) => other !== name && !may.includes(other))) },
    })),
    {
      name: 'pure-core-and-replica',
      severity: 'error',
      comment: 'core and replica reach the world only through ports: no node: modules (DESIGN.md §5).',
      from: { path: '^packages/(core|replica)/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'pure-core-and-replica-deps',
      severity: 'error',
      comment: 'core imports no npm package; replica only the pure ones it is built on.',
      from: { path: '^packages/core/src/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.tests.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};
