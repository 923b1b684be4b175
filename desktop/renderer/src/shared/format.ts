/**
 * Display formatting for the console. Inputs follow CONVENTIONS.md: seconds, bytes, bits per second,
 * USD with the price table's date. Every function accepts null/undefined/NaN and returns an em dash,
 * because tables show rows long before all their facts are known.
 */

const DASH = '—';

function isNum(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** 75.4 -> "1:15", 3725 -> "1:02:05", 0.4 -> "0.4 s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 2 : 1).replace(/\.?0+$/, '') || '0'} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Elapsed wall time for job tables: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatElapsed(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

const SIZE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** Decimal units (as operating systems show file sizes): 1_500_000 -> "1.5 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (!isNum(bytes) || bytes < 0) return DASH;
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < SIZE_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${SIZE_UNITS[i]}`;
}

/** 2_500_000 -> "2.5 Mb/s", 96_000 -> "96 kb/s". */
export function formatBitrate(bps: number | null | undefined): string {
  if (!isNum(bps) || bps < 0) return DASH;
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gb/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(bps >= 1e7 ? 1 : 2).replace(/\.?0+$/, '')} Mb/s`;
  if (bps >= 1e3) return `${Math.round(bps / 1e3)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

/**
 * Money in USD. Small amounts keep significant digits (a Lambda job costs fractions of a cent);
 * the price table's date goes alongside so an operator knows how current the figure is.
 */
export function formatCost(usd: number | null | undefined, priceDate?: string | null): string {
  if (!isNum(usd) || usd < 0) return DASH;
  const amount =
    usd === 0 ? '$0'
    : usd < 0.01 ? `$${usd.toPrecision(2)}`
    : usd < 100 ? `$${usd.toFixed(usd < 1 ? 4 : 2)}`
    : `$${Math.round(usd).toLocaleString('en-US')}`;
  return priceDate ? `${amount} (prices ${priceDate})` : amount;
}

export function formatResolution(width: number | null | undefined, height: number | null | undefined): string {
  if (!isNum(width) || !isNum(height) || width <= 0 || height <= 0) return DASH;
  return `${width}×${height}`;
}

export function formatPercent(ratio: number | null | undefined, digits = 0): string {
  if (!isNum(ratio)) return DASH;
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** Encode speed relative to real time: 3.2 -> "3.2×". */
export function formatSpeed(x: number | null | undefined): string {
  if (!isNum(x) || x <= 0) return DASH;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;
}

export function formatNumber(v: number | null | undefined, digits = 2): string {
  if (!isNum(v)) return DASH;
  return v.toFixed(digits);
}

/** ISO-8601 -> local "2026-11-22 03:04:05" (tables), never throws on bad input. */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Seconds between two ISO timestamps (end defaults to now), or null. */
export function secondsBetween(startIso: string | null | undefined, endIso?: string | null, now = Date.now()): number | null {
  if (!startIso) return null;
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : now;
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

/** "retry in 2m 10s" for a job waiting out its backoff until `notBeforeIso`; "retry due" once that time has passed. */
export function formatRetryIn(notBeforeIso: string | null | undefined, now = Date.now()): string {
  const at = notBeforeIso ? Date.parse(notBeforeIso) : Number.NaN;
  if (!Number.isFinite(at)) return 'retry pending';
  const sec = Math.ceil((at - now) / 1000);
  if (sec <= 0) return 'retry due';
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `retry in ${h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`}`;
}

/** Priority 1-10 in words: the steps the Upload screen offers. */
export function priorityLabel(p: number): string {
  return p <= 2 ? 'Low' : p <= 6 ? 'Normal' : p <= 8 ? 'High' : 'Urgent';
}
