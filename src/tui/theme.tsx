import { createContext, useContext, type ReactNode } from 'react';
import { Text } from 'ink';
import type { Segment, Tone } from './diff.js';

// Colours, on or off. NO_COLOR (https://no-color.org) turns every colour
// off; bold, dim and inverse stay, since they are not colours, and every
// state that colour shows is also shown by a character (✓ ✗ ▸ *).

export interface Theme {
  color: boolean;
}

const ThemeContext = createContext<Theme>({ color: true });

export function ThemeProvider({ color, children }: { color: boolean; children: ReactNode }): ReactNode {
  return <ThemeContext.Provider value={{ color }}>{children}</ThemeContext.Provider>;
}

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

/** Whether colour is wanted, from the environment. */
export function colorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR;
}

const COLORS: Partial<Record<Tone, string>> = { key: 'cyan', add: 'green', del: 'red', change: 'yellow', good: 'green', bad: 'red', warn: 'yellow' };

export interface ToneStyle {
  color?: string;
  dimColor?: boolean;
  bold?: boolean;
}

/** The ink text props for a tone. */
export function toneStyle(tone: Tone | undefined, theme: Theme): ToneStyle {
  const t = tone ?? 'plain';
  return {
    color: theme.color ? COLORS[t] : undefined,
    dimColor: t === 'dim' ? true : undefined,
    bold: t === 'title' || t === 'bad' ? true : undefined,
  };
}

/** A colour only when colours are on. */
export function useColor(): (name: string) => string | undefined {
  const theme = useTheme();
  return (name) => (theme.color ? name : undefined);
}

/** One line of toned segments, truncated to its box. */
export function ToneLine({ line, inverse }: { line: Segment[]; inverse?: boolean }): ReactNode {
  const theme = useTheme();
  return (
    <Text wrap="truncate-end" inverse={inverse}>
      {line.length === 0 ? ' ' : line.map((s, i) => <Text key={i} {...toneStyle(s.tone, theme)}>{s.text}</Text>)}
    </Text>
  );
}
