// How the screen is divided, from its size. Pure.
//
//   ┌ Timeline (4 rows) ─────────────────────────┐
//   ┌ Sessions ──────┐┌ Steps ───────────────────┐  middle
//   ┌ Diff ──────────────────────────────────────┐  diff
//   the debugger's line (1 row, under --inspect)
//   status bar (1 row)

export const MIN_COLUMNS = 60;
export const MIN_ROWS = 16;

export interface Layout {
  columns: number;
  rows: number;
  tooSmall: boolean;
  timelineHeight: number;
  middleHeight: number;
  diffHeight: number;
  sessionsWidth: number;
  stepsWidth: number;
}

/** `footer`: the rows under the panes (the status bar, and the debugger's line under --inspect). */
export function layout(columns: number, rows: number, footer = 1): Layout {
  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;
  const timelineHeight = 4;
  const body = Math.max(0, rows - timelineHeight - footer);
  const middleHeight = Math.max(5, Math.ceil(body * 0.53));
  const diffHeight = Math.max(0, body - middleHeight);
  const sessionsWidth = Math.min(56, Math.max(30, Math.round(columns * 0.475)));
  return { columns, rows, tooSmall, timelineHeight, middleHeight, diffHeight, sessionsWidth, stepsWidth: Math.max(0, columns - sessionsWidth) };
}
