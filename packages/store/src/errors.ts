/** The errors a store raises. Business outcomes never come from here: these are all faults. */
/** One line: the node prints these messages at start, so a stray newline must not split them. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Stored bytes that are not a valid record of the layout, a record that fails its checksum, or one
 * missing where the layout says it must be. The message names the key (or the LevelDB file) and what
 * is wrong in one line: at start the node prints it and refuses to start; on a read the request fails
 * (500 internal, logged at error) and nothing is served from the damaged record.
 */
export class StoreCorruptError extends Error {
  override readonly name = 'StoreCorruptError';
  constructor(
    /** The damaged key, or the path of a damaged LevelDB file (see `inFile`). */
    readonly key: string,
    readonly problem: string,
    where = `key ${JSON.stringify(key)}`,
  ) {
    super(oneLine(`store corrupt at ${where}: ${problem}`));
  }

  /** A damaged LevelDB file of the data directory (a table, the manifest). */
  static inFile(path: string, problem: string): StoreCorruptError {
    return new StoreCorruptError(path, problem, `file ${path}`);
  }
}

/** A tenant-events cursor that this store did not hand out (the server answers 400). */
export class StoreCursorError extends Error {
  override readonly name = 'StoreCursorError';
  constructor(
    readonly cursor: string,
    problem: string,
  ) {
    super(oneLine(`invalid events cursor ${JSON.stringify(cursor.slice(0, 64))}: ${problem}`));
  }
}

/** A call on a store that was closed, or that crashed (MemoryStore): nothing was read or written. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
}

/**
 * A batch or record that would break what the store guarantees (a gap in a log, a head that is not
 * its log's last event, a malformed event, a second meta): a bug in the caller. Nothing was written.
 */
export class StoreInvariantError extends Error {
  override readonly name = 'StoreInvariantError';
  constructor(message: string) {
    super(oneLine(message));
  }
}
