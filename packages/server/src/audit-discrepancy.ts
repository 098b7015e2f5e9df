/**
 * What every check of `allot audit verify` shares: the export's files as it reads them, and the
 * first discrepancy found in them, which a check throws (`fail`) and verifyAuditExport
 * (audit-verify.ts) catches, so verify stops there. Pure, like audit-verify.ts.
 */

/** The files of an export folder, by path relative to it (`segments/…` with `/`); undefined when absent. */
export type AuditFiles = (path: string) => Uint8Array | undefined;

/** The first thing found wrong: in which file, at which origin and seq when it is in a log. */
export interface Discrepancy {
  readonly file: string;
  readonly origin?: string;
  readonly seq?: number;
  readonly problem: string;
}

/** One line for a discrepancy: file, origin and seq, then what is wrong. */
export function discrepancyLine(discrepancy: Discrepancy): string {
  const parts = [discrepancy.file];
  if (discrepancy.origin !== undefined)
    parts.push(
      `origin ${discrepancy.origin}${discrepancy.seq === undefined ? '' : ` seq ${discrepancy.seq}`}`,
    );
  parts.push(discrepancy.problem);
  return parts.join(': ');
}

/** Carries the first discrepancy out of the checks, to verifyAuditExport. */
export class Found extends Error {
  constructor(readonly discrepancy: Discrepancy) {
    super(discrepancyLine(discrepancy));
  }
}

/** Stops verify at this discrepancy. */
export const fail = (discrepancy: Discrepancy): never => {
  throw new Found(discrepancy);
};

/** UTF-8 as an export's text files must be: strict, a BOM kept as a character. */
export const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** An export file's text; fails when it is missing or not UTF-8. */
export function textOf(files: AuditFiles, file: string): string {
  const bytes = files(file);
  if (bytes === undefined) return fail({ file, problem: 'missing' });
  try {
    return utf8.decode(bytes);
  } catch {
    return fail({ file, problem: 'not UTF-8' });
  }
}
