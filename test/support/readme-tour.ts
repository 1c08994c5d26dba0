/**
 * Reads the README's API tour as a reader pastes it: its `sh` blocks, the curl commands in them
 * (with the lines each spans) and the status each one's `# → NNN` comment promises.
 */
export interface TourCommand {
  /** First and last README line (1-based) of the command. */
  from: number;
  to: number;
  text: string;
  /** Statuses the README says this request gets; empty means any 2xx. */
  expected: number[];
}

export interface TourScript {
  /** The blocks' lines in order, each with its README line number. */
  lines: { line: number; text: string }[];
  commands: TourCommand[];
}

/** The `sh` blocks between `heading` and the next `## ` heading. */
export function tourScript(readme: string, heading = '## API tour'): TourScript {
  const all = readme.split('\n');
  const start = all.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const lines: TourScript['lines'] = [];
  let inBlock = false;
  for (let i = start + 1; i < all.length; i += 1) {
    const text = all[i]!;
    if (!inBlock && /^## /.test(text)) break;
    if (!inBlock && text.trim() === '```sh') inBlock = true;
    else if (inBlock && text.trim() === '```') inBlock = false;
    else if (inBlock) lines.push({ line: i + 1, text });
  }
  return { lines, commands: curlCommands(lines) };
}

interface ShellState {
  single: boolean;
  double: boolean;
  parens: number;
}

/** The code part of a line (its comment cut off), carrying quote and `$(` state across lines. */
function codeOf(text: string, state: ShellState): { code: string; comment: string } {
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (state.single) {
      if (c === "'") state.single = false;
    } else if (c === "'" && !state.double) state.single = true;
    else if (c === '"') state.double = !state.double;
    else if (c === '\\') i += 1;
    else if (!state.double && c === '(') state.parens += 1;
    else if (!state.double && c === ')') state.parens -= 1;
    else if (!state.double && c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      return { code: text.slice(0, i), comment: text.slice(i) };
    }
  }
  return { code: text, comment: '' };
}

function curlCommands(lines: TourScript['lines']): TourCommand[] {
  const commands: TourCommand[] = [];
  const state: ShellState = { single: false, double: false, parens: 0 };
  let open: { from: number; to: number; text: string[]; comments: string[] } | undefined;
  let after: { command: TourCommand; comments: string[] } | undefined;
  const settle = () => {
    if (after) after.command.expected = expectedStatuses(after.comments);
    after = undefined;
  };
  for (const { line, text } of lines) {
    const continuing = open !== undefined || state.single || state.parens > 0;
    const { code, comment } = codeOf(text, state);
    if (!continuing && code.trim() === '' && comment !== '' && after) {
      after.comments.push(comment);
      continue;
    }
    if (!continuing) settle();
    if (!open && /(^|[\s(|;&])curl\s/.test(code))
      open = { from: line, to: line, text: [], comments: [] };
    if (open) {
      open.to = line;
      open.text.push(text);
      if (comment) open.comments.push(comment);
      const more = text.trimEnd().endsWith('\\') || state.single || state.parens > 0;
      if (!more) {
        const command = { from: open.from, to: open.to, text: open.text.join('\n'), expected: [] };
        commands.push(command);
        after = { command, comments: open.comments };
        open = undefined;
      }
    }
  }
  settle();
  return commands;
}

/** `# → 201 {…}` → [201]; `# → 200 or 409: …` → [200, 409]; `# → {…}` → [] (any 2xx). */
export function expectedStatuses(comments: string[]): number[] {
  const first = comments.find((c) => c.includes('→'));
  const match = first?.slice(first.indexOf('→')).match(/^→\s*(\d{3}(?:\s+or\s+\d{3})*)\b/);
  return match ? match[1]!.split(/\s+or\s+/).map(Number) : [];
}
