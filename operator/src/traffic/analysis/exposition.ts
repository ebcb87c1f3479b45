/**
 * Prometheus's text exposition format (version 0.0.4, what prom-client's registry serves),
 * just enough to read counters and histogram buckets: `name{label="value",...} value [timestamp]`,
 * with `#` lines (HELP, TYPE, comments) skipped.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 *
 * Written here rather than taken from npm: the one parser there (parse-prometheus-text-format)
 * has a single maintainer, no types and rare releases, and this is one small function.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

/**
 * Every sample in `text` whose metric name `keep` accepts (all by default). Throws on a line
 * that is not a sample, naming the line, since a misread scrape must not pass for a measurement.
 */
export function parseExposition(text: string, keep: (name: string) => boolean = () => true): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const sample = parseLine(line, keep);
      if (sample) samples.push(sample);
    } catch (err) {
      throw new Error(`metrics line ${i + 1}: ${(err as Error).message}: ${line.slice(0, 200)}`);
    }
  }
  return samples;
}

function parseLine(line: string, keep: (name: string) => boolean): Sample | undefined {
  NAME.lastIndex = 0;
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error('no metric name');
  if (!keep(name)) return undefined;
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      pos = skipSpaces(line, pos);
      if (line[pos] === '}') {
        pos++;
        break;
      }
      LABEL_NAME.lastIndex = pos;
      const label = LABEL_NAME.exec(line)?.[0];
      if (!label) throw new Error(`no label name at column ${pos + 1}`);
      pos = skipSpaces(line, pos + label.length);
      if (line[pos] !== '=') throw new Error(`no = after label ${label}`);
      pos = skipSpaces(line, pos + 1);
      if (line[pos] !== '"') throw new Error(`label ${label}: value not quoted`);
      const [value, end] = readQuoted(line, pos + 1);
      labels[label] = value;
      pos = skipSpaces(line, end);
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`label ${label}: expected , or } at column ${pos + 1}`);
    }
  }
  const [valueText] = line.slice(pos).trim().split(/\s+/); // a timestamp may follow; not needed
  const value = parseValue(valueText ?? '');
  return { name, labels, value };
}

function skipSpaces(line: string, pos: number): number {
  while (line[pos] === ' ' || line[pos] === '\t') pos++;
  return pos;
}

/** The label value from just after its opening quote; returns it and the position after the closing quote. */
function readQuoted(line: string, start: number): [string, number] {
  let out = '';
  for (let pos = start; pos < line.length; pos++) {
    const c = line[pos];
    if (c === '"') return [out, pos + 1];
    if (c === '\\') {
      const next = line[++pos];
      out += next === 'n' ? '\n' : (next ?? '');
    } else out += c;
  }
  throw new Error('unterminated label value');
}

function parseValue(text: string): number {
  switch (text) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
  }
  // Number('') is 0 and Number('0x1') is 1: accept only what the format allows (Go's ParseFloat).
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`"${text}" is not a number`);
  return Number(text);
}
