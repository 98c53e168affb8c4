import { useEffect, useMemo, useReducer, type ReactNode } from 'react';
import { Box, Text, useApp } from 'ink';
import type { SessionId, TxId } from '../model/records.js';
import type { TuiSource } from '../services/tui-data.js';
import { DebuggerBar } from './components/DebuggerBar.js';
import { DebuggerOverlay } from './components/DebuggerOverlay.js';
import { DetailOverlay } from './components/DetailOverlay.js';
import { DiffPane } from './components/DiffPane.js';
import { helpLayout, HelpOverlay } from './components/HelpOverlay.js';
import { innerColumns, innerRows } from './components/Pane.js';
import { SessionsPane } from './components/SessionsPane.js';
import { StatusBar } from './components/StatusBar.js';
import { StepsPane } from './components/StepsPane.js';
import { TimelinePane } from './components/TimelinePane.js';
import { shownStep, stepDetail, stepDiff, wrapLines, type Line } from './diff.js';
import { useDebugger } from './hooks/use-debugger.js';
import { useGotoResolver } from './hooks/use-goto-resolver.js';
import { useKeys } from './hooks/use-keys.js';
import { useQuitKeys } from './hooks/use-quit-keys.js';
import { useSessionReplay } from './hooks/use-session-replay.js';
import { useStepDetail } from './hooks/use-step-detail.js';
import { useTerminalSize, type Size } from './hooks/use-terminal-size.js';
import { loadTx, useTxData } from './hooks/use-tx-data.js';
import { layout, MIN_COLUMNS, MIN_ROWS } from './layout.js';
import { initialState, reducer } from './state.js';
import { ThemeProvider } from './theme.js';

// The TUI: four panes (timeline, sessions, steps, diff), a status bar (and,
// under --inspect, the debugger's line above it), and the overlays (help,
// step view, go-to prompt, debugger). State lives in the reducer;
// this component wires hooks to it and lays the panes out for the terminal's
// size.

export interface AppProps {
  source: TuiSource;
  tx?: TxId;
  session?: SessionId;
  /** A fixed size (tests); default: the terminal's, following resizes. */
  size?: Size;
  /** Colours on or off (runTui turns them off when NO_COLOR is set). */
  color: boolean;
}

const EMPTY_DIFF: Line[] = [[{ text: 'Select a session (Enter in Sessions), then a step: its changes show here.', tone: 'dim' }]];

export function App(props: AppProps): ReactNode {
  return (
    <ThemeProvider color={props.color}>
      <Screen {...props} />
    </ThemeProvider>
  );
}

function Screen({ source, tx, session, size }: AppProps): ReactNode {
  const terminal = useTerminalSize(size);
  const [state, dispatch] = useReducer(reducer, undefined, () => {
    const start = initialState({ range: source.range(), tx, session, debugger: source.debugger?.status() ?? null, warning: source.damage ?? null });
    // The first transaction and its sessions are one quick query: in the first
    // frame, rather than a "winding" frame and a second render (issue 5).
    return start.tx === 0 ? start : reducer(start, loadTx(source, start.tx));
  });
  const { exit } = useApp();
  useTxData(source, state.tx, state.txView?.tx === state.tx, dispatch);
  useSessionReplay(source, state.steps?.session ?? null, state.steps?.trace.run ?? 0, state.steps?.trace.fresh ?? false, dispatch);
  useStepDetail(source, state.steps?.session ?? null, state.steps?.trace.run ?? 0, state.steps?.view[state.steps.cursor]?.row?.index ?? null, dispatch);
  useDebugger(source.debugger, state.resumes, dispatch);
  useEffect(() => {
    if (state.quitting) exit();
  }, [state.quitting, exit]);

  const footer = state.debugger ? 2 : 1;
  const l = layout(terminal.columns, terminal.rows, footer);
  const steps = state.steps;
  const shown = useMemo(() => shownStep(steps), [steps?.view, steps?.cursor, steps?.detail]);
  const diffLines = useMemo(
    () => (steps && shown ? stepDiff(steps.view, shown.index, shown.stepped, innerColumns(l.columns)) : EMPTY_DIFF),
    [steps?.view, shown, l.columns],
  );
  const selected = steps?.view[steps.cursor];
  const detailLines = useMemo(
    () =>
      state.overlay?.kind === 'detail' && selected
        ? wrapLines(JSON.stringify(stepDetail(selected, shown?.index === steps?.cursor ? shown.stepped : 'pending'), null, 2), innerColumns(l.columns))
        : [],
    [state.overlay?.kind, selected, shown, l.columns],
  );

  const overlay = state.overlay;
  const screenRows = l.rows - footer;
  useQuitKeys(dispatch);
  useGotoResolver(source, overlay, dispatch);
  useKeys(dispatch, {
    range: state.range,
    sessionsPage: Math.max(1, innerRows(l.middleHeight) - 2),
    stepsPage: Math.max(1, innerRows(l.middleHeight) - 1),
    diff: { max: Math.max(0, diffLines.length - innerRows(l.diffHeight)), page: Math.max(1, innerRows(l.diffHeight) - 1) },
    detail: { max: Math.max(0, detailLines.length - innerRows(screenRows)), page: Math.max(1, innerRows(screenRows) - 1) },
    help: helpLayout(l.columns, screenRows),
  });

  if (l.tooSmall) {
    return <TooSmall columns={l.columns} rows={l.rows} />;
  }
  const diffRow = shown ? steps?.view[shown.index] : undefined;
  const diffTitle = diffRow ? `Diff · step ${diffRow.row ? diffRow.row.index : '+'} ${diffRow.kind}${shown?.lag ?? ''}` : 'Diff';
  return (
    <Box flexDirection="column" width={l.columns} height={l.rows}>
      {overlay?.kind === 'help' ? (
        <HelpOverlay width={l.columns} height={screenRows} scroll={overlay.scroll} />
      ) : overlay?.kind === 'debugger' && state.debugger ? (
        <DebuggerOverlay status={state.debugger} width={l.columns} height={screenRows} />
      ) : overlay?.kind === 'detail' ? (
        <DetailOverlay
          title={selected ? `Step ${selected.row ? selected.row.index : '+'} ${selected.kind}` : 'Step'}
          lines={detailLines}
          scroll={overlay.scroll}
          width={l.columns}
          height={screenRows}
        />
      ) : (
        <>
          <TimelinePane state={state} width={l.columns} height={l.timelineHeight} focused={state.focus === 'timeline'} />
          <Box height={l.middleHeight}>
            <SessionsPane state={state} width={l.sessionsWidth} height={l.middleHeight} focused={state.focus === 'sessions'} />
            <StepsPane state={state} width={l.stepsWidth} height={l.middleHeight} focused={state.focus === 'steps'} />
          </Box>
          <DiffPane lines={diffLines} scroll={state.diffScroll} title={diffTitle} width={l.columns} height={l.diffHeight} focused={state.focus === 'diff'} />
        </>
      )}
      {state.debugger ? <DebuggerBar status={state.debugger} width={l.columns} /> : null}
      <StatusBar state={state} width={l.columns} />
    </Box>
  );
}

function TooSmall({ columns, rows }: { columns: number; rows: number }): ReactNode {
  return (
    <Box width={columns} height={rows}>
      <Text wrap="wrap">
        The terminal is {columns}x{rows}; the TUI needs at least {MIN_COLUMNS}x{MIN_ROWS}. Enlarge it, or press q to quit.
      </Text>
    </Box>
  );
}
