import { Flags } from '@oclif/core';
import { queryState, STATE_QUERY_TIMEOUT, STATE_ROW_LIMIT, type StateResult } from '../services/state.js';
import { ReplayCommand } from './base.js';
import { formatState } from './format-replay.js';

export default class State extends ReplayCommand<StateResult> {
  static override summary = 'Query the database as it was just after a transaction.';
  static override description =
    'Rebuilds the database as of transaction N in a private temporary file (the nearest snapshot plus the journal\'s row changes) and runs a read-only query on it. Without --table or --sql it lists the tables with their row counts. Statements that write are refused. At most --limit rows are read (10,000 by default); the output says when there were more. A --sql query that runs longer than --timeout seconds (30 by default) is stopped: exit 2.';
  static override examples = [
    '<%= config.bin %> state --tx 4811',
    '<%= config.bin %> state --tx 4811 --table accounts',
    '<%= config.bin %> state --tx 4811 --sql "select id, balance from accounts where balance < 0"',
  ];
  static override flags = {
    tx: Flags.string({ summary: 'The transaction id (0: before any).', required: true }),
    table: Flags.string({ summary: 'Show every row of this table.' }),
    sql: Flags.string({ summary: 'A read-only SQL query.' }),
    limit: Flags.integer({ summary: `At most this many rows of --table or --sql (default ${STATE_ROW_LIMIT.toLocaleString('en-US')}).`, min: 1 }),
    timeout: Flags.integer({ summary: `Stop the --sql query after this many seconds (default ${STATE_QUERY_TIMEOUT}; 0: no limit).`, min: 0 }),
  };

  async run(): Promise<StateResult> {
    const { flags } = await this.parse(State);
    const result = await queryState({ journal: this.journalDir(flags), tx: flags.tx, table: flags.table, sql: flags.sql, limit: flags.limit, timeout: flags.timeout });
    if (!this.jsonEnabled()) {
      this.log(formatState(result));
      if ('truncated' in result && result.truncated) {
        this.log(`${result.rows.length.toLocaleString('en-US')} rows shown; more exist: use --limit N to see more (or restore the database to query it whole)`);
      }
    }
    return result;
  }
}
