// Every key binding, in one table: the help overlay and docs/tui.md show it.
// key-map.ts implements it (hooks/use-keys.ts and use-quit-keys.ts read the keys).

export interface Binding {
  keys: string;
  does: string;
}

export interface BindingGroup {
  group: string;
  bindings: Binding[];
}

export const BINDINGS: readonly BindingGroup[] = [
  {
    group: 'Anywhere',
    bindings: [
      { keys: 'Tab S-Tab', does: 'next / previous pane' },
      { keys: '[  ]', does: 'previous / next transaction' },
      { keys: 'g', does: 'go to tx, time or s<id>' },
      { keys: 'n  p', does: 'step forward / back' },
      { keys: 'c', does: 'next divergence or checkpoint' },
      { keys: 'r', does: 're-execute the session' },
      { keys: '?', does: 'show / hide this help' },
      { keys: 'i  R', does: 'debugger: attach / resume' },
      { keys: 'q  Ctrl-C', does: 'quit' },
    ],
  },
  {
    group: 'Timeline',
    bindings: [
      { keys: '←  →', does: 'previous / next transaction' },
      { keys: 'PgUp PgDn', does: '10 transactions back / on' },
      { keys: 'Home End', does: 'first / last transaction' },
    ],
  },
  {
    group: 'Sessions',
    bindings: [
      { keys: '↑ ↓ PgUp PgDn', does: 'move (Home End)' },
      { keys: 'Enter', does: 'replay the session' },
      { keys: '/', does: 'filter (Esc clears)' },
    ],
  },
  {
    group: 'Steps',
    bindings: [
      { keys: '↓ ↑ PgDn PgUp', does: 'step forward / back' },
      { keys: 'Home End', does: 'first / last step' },
      { keys: 'Enter', does: 'open the step in full' },
    ],
  },
  {
    group: 'Diff',
    bindings: [{ keys: '↑ ↓ PgUp PgDn', does: 'scroll (Home End)' }],
  },
  {
    group: 'Step view, help',
    bindings: [
      { keys: '↑ ↓ PgUp PgDn', does: 'scroll (Home End)' },
      { keys: 'Esc Enter q', does: 'close' },
    ],
  },
];

/** The short hint the status bar shows for each pane. */
export const PANE_HINTS: Record<string, string> = {
  timeline: '←/→ tx  [ ] tx  g goto',
  sessions: '↑/↓ move  Enter replay  / filter',
  steps: '↓/↑ n/p step  c continue  Enter open',
  diff: '↑/↓ PgUp/PgDn scroll',
};
