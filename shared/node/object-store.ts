import type { Readable } from 'node:stream';

/** One object-store interface, two implementations: a local folder (the embedded default) and S3. */

export interface ObjectMeta {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly etag?: string;
  readonly contentType?: string;
}

export interface TransferProgress {
  readonly loaded: number;
  readonly total: number | undefined;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Multipart part size in bytes (S3 minimum 5 MiB). */
  readonly partSizeBytes?: number;
  /** Parts uploaded at once. */
  readonly concurrency?: number;
}

export interface PutResult {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  /** For putFile: true when an interrupted upload was resumed rather than started over. */
  readonly resumed?: boolean;
}

export interface GetOptions {
  /** Inclusive byte range. */
  readonly range?: { readonly start: number; readonly end?: number };
  readonly signal?: AbortSignal;
}

export interface ListOptions {
  readonly startAfter?: string;
  /** Page size for the underlying listing. */
  readonly pageSize?: number;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** Human description without secrets, e.g. `s3://bucket/prefix` or a folder path. */
  readonly location: string;
  put(key: string, body: Readable | Buffer | Uint8Array | string, options?: PutOptions): Promise<PutResult>;
  /** Upload a file; a large interrupted upload of the same file to the same key resumes where it stopped. */
  putFile(key: string, filePath: string, options?: PutOptions): Promise<PutResult>;
  get(key: string, options?: GetOptions): Promise<Readable>;
  /** Whole object as a Buffer (small objects: manifests, status). */
  getBuffer(key: string, options?: { readonly signal?: AbortSignal }): Promise<Buffer>;
  /** Download to a file, written under a temporary name and renamed when complete. */
  getFile(key: string, filePath: string, options?: { readonly signal?: AbortSignal; readonly onProgress?: (p: TransferProgress) => void }): Promise<ObjectMeta>;
  /** null when the key does not exist. */
  head(key: string): Promise<ObjectMeta | null>;
  /** All keys under a prefix, in key order, fetched page by page. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta>;
  /** Immediate "folders" under a prefix (delimiter '/'). */
  listPrefixes(prefix: string): AsyncIterable<string>;
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<number>;
  copy(fromKey: string, toKey: string): Promise<void>;
}
