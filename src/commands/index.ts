import Info from './info.js';

// Explicit command discovery (package.json "oclif.commands"): oclif loads
// this map instead of scanning files. Commands that draw the TUI import ink
// lazily inside run(), so no other command pays for it.
export const COMMANDS = {
  info: Info,
};
