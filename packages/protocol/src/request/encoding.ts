/** The byte of the two hex digits at `at`, or -1. */
export function hexByte(text: string, at: number): number {
  const hi = hexDigit(text.charCodeAt(at));
  const lo = hexDigit(text.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** A piece of client input short enough to quote in a reason. */
export function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
