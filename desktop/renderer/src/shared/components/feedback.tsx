import type { ReactNode } from 'react';
import { errorHint, type UiError } from '../errors.ts';

export function ProgressBar({ value, label, tone }: { value: number; label: string; tone?: 'ok' | 'bad' }) {
  const pct = Math.max(0, Math.min(1, Number.isFinite(value) ? value : 0)) * 100;
  return (
    <div className={`progress${tone ? ` ${tone}` : ''}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}

export function ErrorBanner({ error, onRetry, onDismiss }: { error: UiError; onRetry?: () => void; onDismiss?: () => void }) {
  return (
    <div className="banner error" role="alert">
      <div>
        <code>{error.code}</code>: {error.message}
        <div className="small">{errorHint(error.code)}</div>
      </div>
      <span className="spacer" />
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
      {onDismiss && (
        <button type="button" className="btn small" onClick={onDismiss} aria-label="Dismiss error">
          ×
        </button>
      )}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="muted" role="status">
      <span className="spinner" /> {label}
    </div>
  );
}
