import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

/**
 * dynalite 4.x (in-memory) on 127.0.0.1 and a random port, for tests and benchmarks, behind a small front server
 * that fills in what dynalite 4.0 lacks and the job store needs (as test/helpers/s3rver.ts does for s3rver):
 *  - TransactWriteItems: applied in order as conditional Put/Update/Delete calls with ReturnValues ALL_OLD; on a
 *    failed condition the calls already made are undone from their old images, and the caller gets DynamoDB's
 *    TransactionCanceledException with one CancellationReason per item (the failed one with `Item` when
 *    ReturnValuesOnConditionCheckFailure is ALL_OLD). Every request goes through one queue, so no reader or writer
 *    sees a transaction half done. ConditionCheck items are refused (the store does not use them).
 *  - UpdateTimeToLive / DescribeTimeToLive: remembered per table (dynalite never expires items anyway).
 *  - ReturnValuesOnConditionCheckFailure ALL_OLD on single Put/Update/Delete: dynalite ignores it; the front server
 *    adds the old item to the ConditionalCheckFailedException as DynamoDB does.
 * Not DynamoDB: use it for behaviour, never for speed.
 */
export interface Dynalite {
  readonly endpoint: string;
  /** Environment for a child process's SDK client (static dummy credentials, never real ones). */
  readonly env: Record<string, string>;
  /** A low-level client on the endpoint (callers wrap it in a DynamoDBDocumentClient). */
  client(options?: { maxAttempts?: number }): DynamoDBClient;
  close(): Promise<void>;
}

export const DYNALITE_CREDENTIALS = { accessKeyId: 'dynalite', secretAccessKey: 'dynalite' } as const;

type Json = Record<string, unknown>;
interface Reply {
  readonly status: number;
  readonly body: Json;
}

const dynalite = createRequire(import.meta.url)('dynalite') as (options: Json) => http.Server;

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startDynalite(): Promise<Dynalite> {
  const inner = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const innerPort = await listen(inner);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  /** One call to dynalite itself (it checks that a signature is there, not what it says). */
  const call = (op: string, body: Json): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request(
        {
          host: '127.0.0.1',
          port: innerPort,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `DynamoDB_20120810.${op}`,
            'x-amz-date': '20260101T000000Z',
            authorization: 'AWS4-HMAC-SHA256 Credential=dynalite/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
            'content-length': Buffer.byteLength(data),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 500, body: text ? (JSON.parse(text) as Json) : {} }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });

  const ttl = new Map<string, Json>();
  const errorType = (r: Reply) => String(r.body.__type ?? '').split('#').pop() ?? '';
  const keyNames = new Map<string, string[]>();
  /** The key of a Put's item (from the table's key schema) or an Update's/Delete's Key. */
  async function keyFor(table: string, request: Json): Promise<Json> {
    if (request.Key) return request.Key as Json;
    if (!keyNames.has(table)) {
      const d = await call('DescribeTable', { TableName: table });
      const schema = ((d.body.Table as Json | undefined)?.KeySchema as { AttributeName: string }[] | undefined) ?? [];
      keyNames.set(table, schema.map((k) => k.AttributeName));
    }
    const item = request.Item as Json;
    return Object.fromEntries(keyNames.get(table)!.map((k) => [k, item[k]]));
  }

  /** A single write, with the old item added to a failed condition when asked for (DynamoDB does, dynalite not). */
  async function single(op: string, body: Json): Promise<Reply> {
    const r = await call(op, body);
    if (r.status !== 200 && errorType(r) === 'ConditionalCheckFailedException' && body.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
      const table = String(body.TableName);
      const key = await keyFor(table, body);
      const old = await call('GetItem', { TableName: table, Key: key, ConsistentRead: true });
      if (old.body.Item) return { status: r.status, body: { ...r.body, Item: old.body.Item } };
    }
    return r;
  }

  async function transactWrite(body: Json): Promise<Reply> {
    const items = (body.TransactItems as Json[] | undefined) ?? [];
    const invalid = (message: string): Reply => ({ status: 400, body: { __type: 'com.amazon.coral.validate#ValidationException', message } });
    if (items.length === 0 || items.length > 100) return invalid('Member must have length less than or equal to 100 and greater than or equal to 1');
    const undo: (() => Promise<unknown>)[] = [];
    const rollback = async () => {
      for (const u of undo.reverse()) await u();
    };
    const seen = new Set<string>();
    for (const [i, entry] of items.entries()) {
      const [op, raw] = Object.entries(entry)[0] as [string, Json];
      if (op === 'ConditionCheck' || !['Put', 'Update', 'Delete'].includes(op)) {
        await rollback();
        return invalid(`${op} in TransactWriteItems is not supported by test/helpers/dynalite.ts`);
      }
      const table = String(raw.TableName);
      const key = await keyFor(table, raw);
      const id = `${table} ${JSON.stringify(key)}`;
      if (seen.has(id)) {
        await rollback();
        return invalid('Transaction request cannot include multiple operations on one item');
      }
      seen.add(id);
      const { ReturnValuesOnConditionCheckFailure: wantOld, ...rest } = raw;
      const r = await call(`${op}Item`, { ...rest, ReturnValues: 'ALL_OLD' });
      if (r.status === 200) {
        const old = r.body.Attributes as Json | undefined;
        undo.push(() => (old ? call('PutItem', { TableName: table, Item: old }) : call('DeleteItem', { TableName: table, Key: key })));
        continue;
      }
      await rollback();
      if (errorType(r) !== 'ConditionalCheckFailedException') return r;
      const current = wantOld === 'ALL_OLD' ? (await call('GetItem', { TableName: table, Key: key, ConsistentRead: true })).body.Item : undefined;
      const reasons = items.map((_, j) =>
        j === i ? { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(current ? { Item: current } : {}) } : { Code: 'None' },
      );
      return {
        status: 400,
        body: {
          __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
          Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((x) => x.Code).join(', ')}]`,
          CancellationReasons: reasons,
        },
      };
    }
    return { status: 200, body: {} };
  }

  async function handle(op: string, body: Json): Promise<Reply | null> {
    switch (op) {
      case 'TransactWriteItems':
        return transactWrite(body);
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return body.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? single(op, body) : null;
      case 'UpdateTimeToLive':
        ttl.set(String(body.TableName), body.TimeToLiveSpecification as Json);
        return { status: 200, body: { TimeToLiveSpecification: body.TimeToLiveSpecification } };
      case 'DescribeTimeToLive': {
        const spec = ttl.get(String(body.TableName));
        return spec ? { status: 200, body: { TimeToLiveDescription: { TimeToLiveStatus: spec.Enabled ? 'ENABLED' : 'DISABLED', AttributeName: spec.AttributeName } } } : null;
      }
      default:
        return null;
    }
  }

  // One request at a time, so a transaction is atomic to everyone else.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const front = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      void serial(async () => {
        const parsed = raw.length ? (JSON.parse(raw.toString('utf8')) as Json) : {};
        const own = await handle(op, parsed);
        if (own) {
          const text = JSON.stringify(own.body);
          res.writeHead(own.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
        await new Promise<void>((resolve) => {
          const headers = { ...req.headers, host: `127.0.0.1:${innerPort}` };
          const fwd = http.request({ host: '127.0.0.1', port: innerPort, method: req.method, path: req.url, headers, agent }, (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
            up.on('end', resolve);
            up.on('error', resolve);
          });
          fwd.on('error', (err) => {
            res.writeHead(502);
            res.end(String(err));
            resolve();
          });
          fwd.end(raw);
        });
      }).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(err) }));
      });
    });
  });
  const port = await listen(front);
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: DynamoDBClient[] = [];
  let closed = false;
  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: DYNALITE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DYNALITE_CREDENTIALS.secretAccessKey,
    },
    client(options = {}) {
      const c = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: DYNALITE_CREDENTIALS, ...options });
      clients.push(c);
      return c;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const c of clients) c.destroy();
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      agent.destroy();
      await new Promise<void>((resolve) => inner.close(() => resolve()));
    },
  };
}
