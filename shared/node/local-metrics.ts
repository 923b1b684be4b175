import { appendFileSync, createReadStream, mkdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Tier } from '../common/job.ts';
import {
  aggregateRecords,
  normalizeQuery,
  parseEmfLine,
  METRICS_NAMESPACE,
  type MetricRecord,
  type MetricsSink,
  type MetricsSource,
} from '../common/metrics-query.ts';
import { TiercastError } from '../common/errors.ts';
import { homePaths } from './data-home.ts';
import { createEmfMetrics } from './metrics-emf.ts';

/**
 * The local metrics store: the same EMF lines a Lambda prints to CloudWatch, appended to one file per UTC day
 * (metrics/2026-01-31.jsonl) in the data home, so the CLI, the agent and the console share them and a dashboard works
 * with no AWS account. Appends are single small writes with O_APPEND, so several processes can write one file
 * without interleaving inside a line.
 */

const FILE_RE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
const TIMESTAMP_RE = /"Timestamp":(\d{1,15})[,}]/;

export function metricsFileName(timestampMs: number): string {
  return `${new Date(timestampMs).toISOString().slice(0, 10)}.jsonl`;
}

export interface LocalMetricsStore {
  readonly dir: string;
  /** Appends one EMF line to the file of its own timestamp's day. */
  appendLine(line: string): void;
  /** Records with from <= timestamp < to (epoch ms), in file order. Lines that are not Tiercast EMF are skipped. */
  read(fromMs: number, toMs: number, options?: { readonly tiers?: readonly Tier[] }): Promise<MetricRecord[]>;
}

export function createLocalMetricsStore(dir: string = homePaths().metrics, namespace: string = METRICS_NAMESPACE): LocalMetricsStore {
  let made = false;
  return {
    dir,
    appendLine(line) {
      // The writer puts _aws first, so its Timestamp is found without parsing the whole line; a line without one
      // (not EMF) is still kept under today, and the reader skips it.
      const m = TIMESTAMP_RE.exec(line.slice(0, 200));
      const ts = m ? Number(m[1]) : Date.now();
      if (!made) {
        mkdirSync(dir, { recursive: true });
        made = true;
      }
      appendFileSync(path.join(dir, metricsFileName(ts)), `${line.replace(/\n/g, ' ')}\n`);
    },
    async read(fromMs, toMs, options = {}) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new TiercastError('STORE_ERROR', `cannot read the metrics folder ${dir}: ${(err as Error).message}`, { cause: err });
      }
      const firstDay = new Date(fromMs).toISOString().slice(0, 10);
      const lastDay = new Date(toMs).toISOString().slice(0, 10);
      const days = names
        .map((n) => FILE_RE.exec(n)?.[1])
        .filter((d): d is string => d !== undefined && d >= firstDay && d <= lastDay)
        .sort();
      const out: MetricRecord[] = [];
      for (const day of days) {
        const rl = createInterface({ input: createReadStream(path.join(dir, `${day}.jsonl`), 'utf8'), crlfDelay: Infinity });
        for await (const line of rl) {
          const r = parseEmfLine(line, namespace);
          if (!r || r.timestamp < fromMs || r.timestamp >= toMs) continue;
          if (options.tiers && !options.tiers.includes(r.tier)) continue;
          out.push(r);
        }
      }
      return out;
    },
  };
}

/** A MetricsSink writing EMF lines into the local store. */
export function createLocalMetricsSink(dir: string = homePaths().metrics, options: { namespace?: string; now?: () => number } = {}): MetricsSink {
  const store = createLocalMetricsStore(dir, options.namespace);
  return createEmfMetrics({
    sink: (line) => store.appendLine(line),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

/** The dashboards' MetricsSource over the local store (see shared/common/metrics-query.ts). */
export function createLocalMetricsSource(dir: string = homePaths().metrics, namespace: string = METRICS_NAMESPACE): MetricsSource {
  const store = createLocalMetricsStore(dir, namespace);
  return {
    kind: 'local',
    async query(panel, range) {
      const q = normalizeQuery(panel, range);
      const records = await store.read(Date.parse(q.from), Date.parse(q.to));
      return aggregateRecords(records, panel, q);
    },
  };
}
