import Audit from './audit.js';
import Export from './export.js';
import Info from './info.js';
import RecordCommand from './record.js';
import Repair from './repair.js';
import Restore from './restore.js';
import Run from './run.js';
import Sessions from './sessions.js';
import Show from './show.js';
import State from './state.js';
import Tui from './tui.js';
import Verify from './verify.js';
import Wind from './wind.js';

// Explicit command discovery (package.json "oclif.commands"): oclif loads
// this map instead of scanning files. Commands that draw the TUI import ink
// lazily inside run(), so no other command pays for it.
export const COMMANDS = {
  info: Info,
  sessions: Sessions,
  wind: Wind,
  repair: Repair,
  record: RecordCommand,
  show: Show,
  run: Run,
  state: State,
  restore: Restore,
  audit: Audit,
  verify: Verify,
  tui: Tui,
  export: Export,
};
