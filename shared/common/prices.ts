import { z } from 'zod';

/**
 * AWS list prices the cost model uses, with the region and the date they were read, so every figure Tiercast shows
 * can say which table it came from. Operators override any field through config `prices` (their region, their
 * discounts, a newer table). Amounts in USD.
 */

export const PriceTableSchema = z.strictObject({
  region: z.string().min(1),
  /** Day the prices were read from the public price pages (YYYY-MM-DD). */
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD'),
  source: z.string(),
  lambda: z.strictObject({
    /** Per GB-second of configured memory. */
    gbSecondX86: z.number().nonnegative(),
    gbSecondArm64: z.number().nonnegative(),
    /** Per request (0.20 USD per million). */
    request: z.number().nonnegative(),
    /** Per GB-second of ephemeral storage beyond the free 512 MB. */
    ephemeralGbSecond: z.number().nonnegative(),
    freeEphemeralMb: z.number().nonnegative(),
  }),
  fargate: z.strictObject({
    vcpuHourX86: z.number().nonnegative(),
    gbHourX86: z.number().nonnegative(),
    vcpuHourArm64: z.number().nonnegative(),
    gbHourArm64: z.number().nonnegative(),
    /** Per GB-hour of ephemeral storage beyond the free 20 GB. */
    ephemeralGbHour: z.number().nonnegative(),
    freeEphemeralGb: z.number().nonnegative(),
    /** Fargate Spot's typical discount against on-demand (0.7 = 70% cheaper); it floats with the market. */
    spotDiscount: z.number().min(0).max(1),
    /** Fargate bills per second with a one-minute minimum. */
    minimumBilledSeconds: z.number().nonnegative(),
  }),
  /** On-demand hourly price per instance type (Linux). */
  ec2Hourly: z.record(z.string(), z.number().nonnegative()),
  s3: z.strictObject({
    /** S3 Standard, first 50 TB. */
    storageGbMonth: z.number().nonnegative(),
    /** PUT, COPY, POST, LIST: per request. */
    putRequest: z.number().nonnegative(),
    /** GET and others: per request. */
    getRequest: z.number().nonnegative(),
  }),
  sqs: z.strictObject({
    /** Standard queue, per request (0.40 USD per million). */
    request: z.number().nonnegative(),
  }),
});
export type PriceTable = z.infer<typeof PriceTableSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Record<string, unknown> ? DeepPartial<T[K]> : T[K] };
export type PriceOverrides = DeepPartial<PriceTable>;

/** Overrides: any subset of the table; validated against the same field rules. */
export const PriceOverridesSchema = z.strictObject({
  region: z.string().min(1).optional(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD').optional(),
  source: z.string().optional(),
  lambda: PriceTableSchema.shape.lambda.partial().optional(),
  fargate: PriceTableSchema.shape.fargate.partial().optional(),
  ec2Hourly: z.record(z.string(), z.number().nonnegative()).optional(),
  s3: PriceTableSchema.shape.s3.partial().optional(),
  sqs: PriceTableSchema.shape.sqs.partial().optional(),
});

export const US_EAST_1_PRICES: PriceTable = {
  region: 'us-east-1',
  date: '2025-06-01',
  source: 'AWS public price pages (Lambda, Fargate, EC2 on-demand Linux, S3 Standard, SQS standard), us-east-1',
  lambda: {
    gbSecondX86: 0.0000166667,
    gbSecondArm64: 0.0000133334,
    request: 0.2 / 1_000_000,
    ephemeralGbSecond: 0.0000000309,
    freeEphemeralMb: 512,
  },
  fargate: {
    vcpuHourX86: 0.04048,
    gbHourX86: 0.004445,
    vcpuHourArm64: 0.03238,
    gbHourArm64: 0.00356,
    ephemeralGbHour: 0.000111,
    freeEphemeralGb: 20,
    spotDiscount: 0.7,
    minimumBilledSeconds: 60,
  },
  ec2Hourly: {
    'c6i.large': 0.085,
    'c6i.xlarge': 0.17,
    'c6i.2xlarge': 0.34,
    'c6i.4xlarge': 0.68,
    'c7i.xlarge': 0.1785,
    'c7g.xlarge': 0.145,
    'c6a.xlarge': 0.153,
    'm6i.xlarge': 0.192,
  },
  s3: {
    storageGbMonth: 0.023,
    putRequest: 0.005 / 1000,
    getRequest: 0.0004 / 1000,
  },
  sqs: { request: 0.4 / 1_000_000 },
};

/** Tables shipped with Tiercast, by region. Other regions start from us-east-1 and say so. */
export const PRICE_TABLES: Readonly<Record<string, PriceTable>> = {
  'us-east-1': US_EAST_1_PRICES,
};

export interface ResolvedPrices {
  readonly table: PriceTable;
  /** Set when the requested region has no shipped table and none was given in overrides. */
  readonly note: string | null;
}

/** The table for a region with the operator's overrides applied on top. */
export function resolvePrices(region: string | undefined, overrides?: PriceOverrides): ResolvedPrices {
  const wanted = overrides?.region ?? region ?? 'us-east-1';
  const base = PRICE_TABLES[wanted];
  const start = base ?? US_EAST_1_PRICES;
  const table: PriceTable = {
    region: overrides?.region ?? start.region,
    date: overrides?.date ?? start.date,
    source: overrides?.source ?? (overrides ? `${start.source} (with config overrides)` : start.source),
    lambda: { ...start.lambda, ...definedOnly(overrides?.lambda) },
    fargate: { ...start.fargate, ...definedOnly(overrides?.fargate) },
    ec2Hourly: { ...start.ec2Hourly, ...(definedOnly(overrides?.ec2Hourly) as Record<string, number>) },
    s3: { ...start.s3, ...definedOnly(overrides?.s3) },
    sqs: { ...start.sqs, ...definedOnly(overrides?.sqs) },
  };
  const note = base
    ? null
    : `no shipped price table for ${wanted}: us-east-1 prices of ${start.date} used wherever config.prices does not override`;
  return { table, note };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
