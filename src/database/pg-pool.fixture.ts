import type {
  PgClient,
  PgPool,
  PgResult,
  PgStatement,
  TransactionDatabase,
} from './transaction-host';

export const textOf = (statement: PgStatement): string =>
  typeof statement === 'string' ? statement : statement.text;

/**
 * A database for unit tests of TransactionHost and of repositories on it: a pg pool (with one
 * client) answering each statement with `answer`, recording what was sent, logged and released.
 */
export class FakePgDatabase implements TransactionDatabase {
  readonly statements: PgStatement[] = [];
  /** The error (or undefined) each checked-out client was released with. */
  readonly released: (Error | undefined)[] = [];
  readonly queryErrors: [error: string | Error, sql: string][] = [];
  readonly client: PgClient;
  readonly logger = {
    logQueryError: (error: string | Error, sql: string): void => {
      this.queryErrors.push([error, sql]);
    },
    logQuerySlow: (): void => undefined,
  };
  slowMs = 0;
  connects = 0;
  private readonly errorListeners = new Set<(error: Error) => void>();

  constructor(private readonly answer: (sql: string, values: unknown[]) => Promise<PgResult>) {
    this.client = {
      query: (statement) => this.query(statement),
      release: (error) => {
        this.released.push(error);
      },
      on: (_event, listener) => {
        this.errorListeners.add(listener);
      },
      removeListener: (_event, listener) => {
        this.errorListeners.delete(listener);
      },
    };
  }

  pool(): PgPool {
    return {
      query: (statement) => this.query(statement),
      connect: () => {
        this.connects += 1;
        return Promise.resolve(this.client);
      },
    };
  }

  texts(): string[] {
    return this.statements.map(textOf);
  }

  /** The client's connection fails, as pg reports it. */
  failConnection(error: Error): void {
    this.errorListeners.forEach((listener) => listener(error));
  }

  get listeners(): number {
    return this.errorListeners.size;
  }

  private query(statement: PgStatement): Promise<PgResult> {
    this.statements.push(statement);
    return this.answer(textOf(statement), typeof statement === 'string' ? [] : statement.values);
  }
}

/** Answers what a transaction's own statements answer, and no rows to the rest. */
export const answerOk = (sql: string): Promise<PgResult> =>
  Promise.resolve({ command: sql.split(' ')[0], rows: [] });
