/**
 * The purity check of DESIGN.md §5: code under packages/core and packages/replica reaches the clock,
 * randomness, timers and the host only through ports. Import rules (node: modules, arrows, cycles)
 * are dependency-cruiser's (.dependency-cruiser.cjs); this finds what an import check cannot see:
 * uses of host globals.
 */
import ts from 'typescript';

/** Globals that read the clock, randomness, schedule work or touch the host. */
const FORBIDDEN_GLOBALS = new Set([
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'performance',
  'process',
  'crypto',
  'require',
  'Buffer',
  'fetch',
  'globalThis',
]);

/** Members of built-ins that read the clock or randomness. */
const FORBIDDEN_MEMBERS = new Set(['Date.now', 'Math.random', 'performance.now']);

/** One forbidden use found in a file. */
export interface PurityViolation {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/**
 * Names the file declares itself (parameters, variables, imports, functions, classes): a use of
 * such a name is a local, not the host global. Coarse on purpose: a file that shadows `crypto`
 * anywhere is read as using its own `crypto` everywhere.
 */
function declaredNames(sourceFile: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (
      (ts.isParameter(node) ||
        ts.isVariableDeclaration(node) ||
        ts.isBindingElement(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isImportSpecifier(node) ||
        ts.isNamespaceImport(node) ||
        ts.isImportClause(node)) &&
      node.name !== undefined &&
      ts.isIdentifier(node.name)
    ) {
      names.add(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return names;
}

/** The forbidden uses in `source` (TypeScript text of file `file`). */
export function purityViolations(file: string, source: string): PurityViolation[] {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const violations: PurityViolation[] = [];
  const declared = declaredNames(sourceFile);
  const report = (node: ts.Node, text: string) => {
    const { line } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
    violations.push({ file, line: line + 1, text });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const member = `${node.expression.text}.${node.name.text}`;
      if (FORBIDDEN_MEMBERS.has(member)) report(node, member);
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date') {
      if (node.arguments === undefined || node.arguments.length === 0) report(node, 'new Date()');
    }
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date') {
      report(node, 'Date()');
    }
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text) && !declared.has(node.text)) {
      const parent = node.parent;
      // A property name (`x.process`, `{ process: 1 }`) is not a use of the global.
      const isName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        (ts.isPropertySignature(parent) && parent.name === node) ||
        (ts.isMethodDeclaration(parent) && parent.name === node) ||
        (ts.isPropertyDeclaration(parent) && parent.name === node);
      if (!isName) report(node, node.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      report(node, 'dynamic import()');
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return violations;
}
