import { useEffect, useState } from 'react';
import { formatRetryIn } from '../../../shared/format.ts';

/**
 * "retry in 2m 10s" for a retry-wait job, ticking each second from the row's notBefore: the clock runs here, in the
 * page, so no job is polled for it. Mounted only for retry-wait rows, so an idle table runs no timer.
 */
export function RetryCountdown({ notBefore, className }: { notBefore: string | null; className?: string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [notBefore]);
  return (
    <span className={className} data-testid="retry-in" title={notBefore ?? undefined}>
      {formatRetryIn(notBefore, now)}
    </span>
  );
}
