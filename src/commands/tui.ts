import * as fs from 'node:fs';
import { Flags } from '@oclif/core';
import { UsageError } from '../model/errors.js';
import { ReplayCommand } from './base.js';
import { currentBundle } from './tui-bundle.js';

// `replay tui`: the interactive time-travel view. ink and react are loaded
// inside run(), so that no other command pays for them.

type TuiModule = typeof import('../tui/run.js');

export default class Tui extends ReplayCommand<void> {
  static override enableJsonFlag = false;
  static override summary = 'Browse the journal interactively: wind through transactions, replay sessions step by step.';
  static override description =
    'A terminal UI with four panes: the transactions (scrub with [ ] or ←/→, g to go to a tx or time), the sessions alive at the current one, the steps of the chosen session re-executed live by the replay engine (each marked equal or diverged), and a diff of the selected step. Press ? inside for every key. Needs an interactive terminal; for scripts use `replay show`, `replay wind` and `replay run`.\n\nWith --inspect the replays run in a child process under the Node inspector: it waits for a debugger to attach, then each session you replay pauses where it starts, and breakpoints set in your TypeScript sources hit. The TUI keeps drawing and says "waiting for a debugger" or "paused in debugger at app.ts:LINE". Press i for the DevTools URL and how to attach (docs/debugging.md), R to resume from the TUI.';
  static override examples = [
    '<%= config.bin %> tui',
    '<%= config.bin %> tui --tx 4812',
    '<%= config.bin %> tui --at 2026-11-24T09:30:00Z',
    '<%= config.bin %> tui --session 42',
    '<%= config.bin %> tui --session 42 --code ./src/app.ts',
    '<%= config.bin %> tui --session 42 --inspect',
    '<%= config.bin %> tui --inspect --inspect-address 127.0.0.1:9229',
  ];
  static override flags = {
    tx: Flags.string({ summary: 'Start wound to this write transaction (default: the last one, or the session\'s first).' }),
    at: Flags.string({ summary: 'Start at the last transaction committed at or before this ISO-8601 time.' }),
    session: Flags.string({ summary: 'Start with this session selected and replaying.' }),
    code: Flags.string({ summary: 'Replay with this app entry instead of the recorded code (a what-if replay).' }),
    inspect: Flags.boolean({ summary: 'Replay under the Node inspector, in a child process: it waits for a debugger, then each session pauses where it starts.' }),
    // No dependsOn: ['inspect'] here: oclif applies the default first, then would demand --inspect on every run.
    'inspect-address': Flags.string({ summary: 'Where the inspector listens (host:port; port 0: a free one), with --inspect.', default: '127.0.0.1:0' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Tui);
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UsageError('the TUI needs an interactive terminal (stdin and stdout must be a TTY); in scripts use `replay show <session>`, `replay wind --tx N` or `replay run <session>`');
    }
    // ink decides when it is first imported whether it runs "in CI" (CI or
    // CONTINUOUS_INTEGRATION set) and then draws nothing until exit. A person
    // at a terminal is never in CI, whatever the environment says.
    process.env.CI = '0';
    process.env.CONTINUOUS_INTEGRATION = '0';
    // The bundle (~270 ms faster to import) when the build made one for this TUI; else the separate modules.
    const bundle = currentBundle(new URL('../tui/', import.meta.url));
    // For tests: which module `replay tui` loaded.
    if (process.env.WINDBACK_TUI_MODULE_LOG) fs.writeFileSync(process.env.WINDBACK_TUI_MODULE_LOG, `${bundle?.href ?? new URL('../tui/run.js', import.meta.url).href}\n`);
    // A literal specifier for the fallback, so that tsx maps it to run.tsx when running from src/.
    const { runTui } = bundle ? ((await import(bundle.href)) as TuiModule) : await import('../tui/run.js');
    await runTui({
      journal: this.journalDir(flags),
      tx: flags.tx,
      at: flags.at,
      session: flags.session,
      code: flags.code,
      inspect: flags.inspect ? flags['inspect-address'] : undefined,
    });
  }
}
