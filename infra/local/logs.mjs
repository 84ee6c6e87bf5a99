// Console output of the local runner: children's lines relayed with the process name, either
// readable (`pretty`: time, name, level, message, fields) or untouched JSON (`json`, for jq and
// log shippers). nats-server and redis-server lines are parsed into the same shape.

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_NUMBERS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };
const COLORS = { 10: 90, 20: 90, 30: 32, 40: 33, 50: 31, 60: 35 };
const NAME_COLORS = [36, 34, 35, 33, 32, 96, 94, 95];
// Fields every pino line carries; repeating them on each console line is noise.
const QUIET_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'service', 'name', 'msg', 'v']);
const MAX_PRETTY_LINE = 4000;

/** Numeric pino level of a `LOG_LEVEL` name. */
export function levelNumber(name) {
  return LEVEL_NUMBERS[name] ?? 30;
}

/**
 * Parses one line of a child's output into `{level, msg, fields, json}`.
 * JSON lines are pino records; nats-server (`[pid] date time [INF] msg`) and redis-server
 * (`pid:M date time * msg`) lines get their level from the server's own marker.
 * @param {string} text
 * @returns {{level: number, msg: string, fields: Record<string, unknown>, json?: Record<string, unknown>}}
 */
export function parseLine(text) {
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text);
      if (json && typeof json === 'object') {
        /** @type {Record<string, unknown>} */
        const fields = {};
        for (const [key, value] of Object.entries(json)) if (!QUIET_FIELDS.has(key)) fields[key] = value;
        return {
          level: typeof json.level === 'number' ? json.level : 30,
          msg: String(json.msg ?? ''),
          fields,
          json,
        };
      }
    } catch {
      // not JSON after all: falls through to the plain-text forms
    }
  }
  const nats = /^\[\d+\] \S+ \S+ \[(TRC|DBG|INF|WRN|ERR|FTL)\] (.*)$/.exec(text);
  if (nats) {
    const level = { TRC: 10, DBG: 20, INF: 30, WRN: 40, ERR: 50, FTL: 60 }[nats[1]];
    return { level, msg: nats[2], fields: {} };
  }
  const redis = /^\d+:[XCSM] .*?\d\d:\d\d:\d\d\.\d+ ([.\-*#]) (.*)$/.exec(text);
  if (redis) {
    // Redis logs its start-up banner at warning level (`#`); shown as info, or it drowns real warnings.
    const level = { '.': 20, '-': 20, '*': 30, '#': 30 }[redis[1]];
    return { level, msg: redis[2], fields: {} };
  }
  return { level: 30, msg: text, fields: {} };
}

function renderValue(value) {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    return JSON.stringify(value.message);
  }
  return JSON.stringify(value);
}

/**
 * Console writer for the runner and its children.
 * @param {{format: 'pretty' | 'json', color?: boolean, minLevel?: number, write?: (s: string) => void}} options
 */
export function createConsole({
  format,
  color = false,
  minLevel = 30,
  write = (s) => process.stdout.write(s),
}) {
  const paint = (code, s) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const nameColors = new Map();
  let width = 8;
  const time = () => new Date().toTimeString().slice(0, 8) + '.' + String(Date.now() % 1000).padStart(3, '0');

  const pretty = (name, level, msg, fields, stack) => {
    if (!nameColors.has(name)) nameColors.set(name, NAME_COLORS[nameColors.size % NAME_COLORS.length]);
    width = Math.max(width, name.length);
    const rest = Object.entries(fields)
      .filter(([key]) => key !== 'stack')
      .map(([key, value]) => `${paint(90, key + '=')}${renderValue(value)}`)
      .join(' ');
    let line = `${paint(90, time())} ${paint(nameColors.get(name), name.padEnd(width))} `;
    line += `${paint(COLORS[level] ?? 37, (LEVELS[level] ?? 'INFO').padEnd(5))} ${msg}${rest ? ' ' + rest : ''}`;
    if (line.length > MAX_PRETTY_LINE) line = line.slice(0, MAX_PRETTY_LINE) + '…';
    write(line + '\n');
    if (stack) write(paint(90, stack.replace(/^/gm, '    ')) + '\n');
  };

  /** One JSON line of the runner's own (`runner` is its pid). */
  const writeRunnerJson = (level, msg, fields) => {
    const line = { level, time: new Date().toISOString(), service: 'authz-local', runner: process.pid, msg };
    write(JSON.stringify({ ...line, ...fields }) + '\n');
  };

  return {
    format,
    /** Relays one line a child printed. */
    child(name, parsed, raw) {
      if (format === 'json') {
        // Services already print JSON: pass it through byte for byte. Server lines are wrapped.
        if (parsed.json) write(raw + '\n');
        else
          write(
            JSON.stringify({
              level: parsed.level,
              time: new Date().toISOString(),
              service: name,
              msg: parsed.msg,
            }) + '\n',
          );
        return;
      }
      const err = parsed.fields.err;
      const stack = parsed.level >= 50 && err && typeof err === 'object' ? err.stack : undefined;
      pretty(name, parsed.level, parsed.msg, parsed.fields, typeof stack === 'string' ? stack : undefined);
    },
    /** A line from the runner itself (`runner` is its pid; a `pid` field names a child). */
    log(level, msg, fields = {}) {
      if (level < minLevel) return;
      if (format === 'json') {
        writeRunnerJson(level, msg, fields);
      } else {
        pretty('runner', level, msg, fields);
      }
    },
    /** A record printed whatever the level (the summary in json mode). */
    record(msg, fields) {
      writeRunnerJson(30, msg, fields);
    },
    /** Free text (the summary) in pretty mode; nothing in json mode. */
    text(s) {
      if (format === 'pretty') write(s);
    },
    paint,
  };
}
