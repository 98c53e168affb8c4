import { Args, Flags } from '@oclif/core';
import { DURABILITY_MODES, type Durability } from '../model/records.js';
import { UsageError } from '../model/errors.js';
import { ReplayCommand } from './base.js';

interface RecordResult {
  url: string;
  journal: string;
  codeVersion: string;
}

export default class RecordCommand extends ReplayCommand<RecordResult> {
  static override summary = 'Serve an app over HTTP and record every session in the journal.';
  static override description =
    'Bundles the app (a TypeScript module that default-exports defineApp({...})), rolls its database forward from the journal (or rebuilds it from the latest intact snapshot when it is damaged, missing, or was open when the machine went down), resumes sessions a crash interrupted, and serves JSON routes (POST /<kind>), JSON-RPC 2.0 at POST /rpc and XML-RPC at POST /RPC2. Every response is journaled, and durable under --durability, before it is sent. SIGTERM or SIGINT drains in-flight sessions and closes the journal. Health and Prometheus metrics are at GET /_windback/health and /_windback/metrics (docs/server.md).';
  static override examples = [
    '<%= config.bin %> record fixtures/apps/bank/app.ts --port 8080',
    '<%= config.bin %> record app.ts --durability always --snapshot-every 500 --config \'{"fraudUrl":"http://127.0.0.1:7412"}\'',
  ];
  static override args = { app: Args.string({ required: true, description: 'The app entry file, TypeScript or JavaScript.' }) };
  static override flags = {
    port: Flags.integer({ summary: 'Port to listen on (0 picks a free one).', default: 8080, min: 0, max: 65535 }),
    host: Flags.string({ summary: 'Address to listen on.', default: '127.0.0.1' }),
    durability: Flags.string({ summary: 'When a response may be sent.', options: [...DURABILITY_MODES], default: 'batch' }),
    'snapshot-every': Flags.integer({ summary: 'Snapshot the database every N write transactions (0: never).', default: 1000, min: 0 }),
    'snapshot-growth': Flags.string({
      summary: 'Also wait until the journal has grown by this fraction of the database\'s size (0: every N exactly).',
      description:
        'A snapshot copies the whole database. Waiting for the journal to grow by this fraction of its size since the last snapshot keeps snapshots cheap as the database grows, and bounds a rebuild to that much journal after a snapshot.',
      default: '0.5',
    }),
    'snapshot-keep': Flags.integer({
      summary: 'Keep at most N snapshots, thinning out older ones (0: keep all).',
      description:
        'Each snapshot is a full copy of the database. Beyond N, the one whose loss lengthens rebuilds least for its age is removed (its removal journaled first): the newest stay dense, older ones ever sparser, and rebuilding the state as of an old transaction replays more of the journal, never less correctly.',
      default: 32,
      min: 0,
    }),
    'max-body': Flags.integer({ summary: 'Largest request body, in bytes.', default: 1 << 20, min: 1 }),
    config: Flags.string({ summary: 'JSON object merged over the app\'s default config.' }),
    'journal-secrets': Flags.boolean({ summary: 'Also journal the Authorization, Proxy-Authorization and Cookie headers.' }),
    'drain-timeout': Flags.integer({
      summary: 'On SIGTERM or SIGINT, wait at most this many ms for in-flight sessions.',
      description: 'Sessions still running when it expires are left open in the journal and resumed at the next start.',
      default: 10_000,
      min: 0,
    }),
    'call-timeout': Flags.integer({
      summary: 'Give up on an external call (fetch) after this many ms (0: no limit).',
      description:
        'The call fails with a TimeoutError, journaled as its result, so that a replay sees the same. Without a limit, a callee that never answers holds its session (and the duplicates waiting on its Idempotency-Key) for as long as the HTTP client waits: minutes.',
      default: 30_000,
      min: 0,
    }),
    'max-resumes': Flags.integer({
      summary: 'Resume a crashed session at most N times in a row, then end it aborted.',
      description: 'A session during which the process ended N+1 times in a row (each restart resumed it, and the process died again) is ended `aborted` instead of being resumed once more, so that a session that takes the process down cannot do it at every restart.',
      default: 5,
      min: 0,
    }),
  };

  async run(): Promise<RecordResult> {
    const { args, flags } = await this.parse(RecordCommand);
    let config: Record<string, unknown> | undefined;
    if (flags.config !== undefined) {
      try {
        config = JSON.parse(flags.config) as Record<string, unknown>;
      } catch (error) {
        throw new UsageError(`--config is not JSON: ${(error as Error).message}`);
      }
    }
    const snapshotGrowth = Number(flags['snapshot-growth']);
    if (flags['snapshot-growth'].trim() === '' || !Number.isFinite(snapshotGrowth) || snapshotGrowth < 0) {
      throw new UsageError(`--snapshot-growth must be a number from 0, not "${flags['snapshot-growth']}"`);
    }
    // Loaded here, not at start-up: the runtime pulls in esbuild and the sandbox.
    const { record } = await import('../services/record.js');
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    let fatal = false;
    // Taken before anything starts: a SIGTERM that came between "listening on" and a
    // handler would kill the process without closing the journal. One during start-up
    // stops the server as soon as it has started.
    let stopRequested = false;
    let stopNow: (() => void) | null = null;
    const onSignal = (): void => {
      stopRequested = true;
      stopNow?.();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const server = await record({
      app: args.app,
      journal: this.journalDir(flags),
      port: flags.port,
      host: flags.host,
      durability: flags.durability as Durability,
      snapshotEvery: flags['snapshot-every'],
      snapshotGrowth,
      snapshotKeep: flags['snapshot-keep'],
      maxBodyBytes: flags['max-body'],
      config,
      journalSecrets: flags['journal-secrets'],
      maxResumes: flags['max-resumes'],
      drainTimeoutMs: flags['drain-timeout'],
      callTimeoutMs: flags['call-timeout'],
      log,
      onFatal: () => {
        fatal = true;
        void server.close().finally(() => process.exit(74));
      },
    });
    const { startup } = server;
    log(`recording ${args.app} (code ${startup.codeVersion.slice(0, 12)}) into ${startup.journal}`);
    if (startup.resumed > 0) log(`resuming ${startup.resumed} session(s) left open (by a crash, or by a shutdown that stopped waiting for them)`);
    if (startup.aborted > 0) log(`aborted ${startup.aborted} session(s) that could not be resumed (reasons above)`);
    log(`listening on ${server.url}`);
    const result = { url: server.url, journal: startup.journal, codeVersion: startup.codeVersion };
    if (this.jsonEnabled()) this.logJson(result);
    await new Promise<void>((resolve) => {
      stopNow = (): void => {
        log('shutting down: draining in-flight sessions');
        void server.close().then(resolve, resolve);
      };
      if (stopRequested) stopNow();
    });
    if (fatal) this.exit(74);
    return result;
  }
}
