import { useEffect, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { TIERS } from '../../../../../../shared/common/job.ts';
import { formatTimestamp } from '../../../shared/format.ts';
import { ErrorBanner, Loading } from '../../../shared/components/feedback.tsx';
import { useSettings } from '../stores/use-settings.ts';
import type { SettingsDraft } from '../stores/settings-slice.ts';

const MB = 1024 * 1024;

function Field({ label, path, errors, children, hint, wide }: { label: string; path: string; errors: Readonly<Record<string, string>>; children: ReactNode; hint?: string; wide?: boolean }) {
  const err = errors[path];
  return (
    <label className={`field${wide ? ' wide' : ''}`} data-field={path}>
      {label}
      {children}
      {hint && !err && <span className="small muted">{hint}</span>}
      {err && (
        <span className="field-error" role="alert">
          {err}
        </span>
      )}
    </label>
  );
}

const nullIfEmpty = (v: string) => (v.trim() === '' ? null : v.trim());
const list = (v: string) => v.split(/[\s,]+/).filter(Boolean);

export function SettingsScreen() {
  const s = useSettings(useShallow((st) => st.settings));
  const actions = useSettings((st) => st.settingsActions);
  useEffect(() => {
    void actions.load();
  }, [actions]);

  if (s.loading) return <section className="screen"><h1>Settings</h1><Loading label="Loading settings…" /></section>;
  const d = s.draft;
  if (!d || !s.saved) {
    return (
      <section className="screen">
        <h1>Settings</h1>
        {s.error && <ErrorBanner error={s.error} onRetry={() => void actions.load()} />}
      </section>
    );
  }
  const e = s.errors;
  const edit = actions.edit;
  const set = <K extends keyof SettingsDraft>(key: K, value: Partial<SettingsDraft[K]>) => edit((x) => ({ ...x, [key]: { ...x[key], ...value } }));
  const invalid = (p: string) => (e[p] ? true : undefined);
  const hasErrors = Object.keys(e).length > 0;

  return (
    <section className="screen" aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <p className="small muted">
        Saved to <span className="mono">{s.saved.configPath}</span>. AWS credentials are never stored or shown here: the AWS SDK takes them from the
        profile, SSO, the environment or the instance role.
      </p>
      {s.error && <ErrorBanner error={s.error} />}
      <form
        className="screen"
        style={{ padding: 0, overflow: 'visible', height: 'auto' }}
        aria-label="Settings"
        noValidate
        onSubmit={(ev) => {
          ev.preventDefault();
          void actions.save();
        }}
      >
        <fieldset>
          <legend>Store</legend>
          <div className="toolbar" role="radiogroup" aria-label="Store kind">
            <label>
              <input
                type="radio"
                name="store-kind"
                checked={d.store.kind === 'local'}
                onChange={() => edit((x) => ({ ...x, store: { kind: 'local', path: s.saved?.store.kind === 'local' ? s.saved.store.path : '' } }))}
              />{' '}
              Local folder
            </label>
            <label>
              <input
                type="radio"
                name="store-kind"
                checked={d.store.kind === 's3'}
                onChange={() => edit((x) => ({ ...x, store: { kind: 's3', bucket: '', prefix: '', endpoint: null } }))}
              />{' '}
              S3 bucket
            </label>
          </div>
          <div className="form-grid">
            {d.store.kind === 'local' ? (
              <Field label="Folder" path="store.path" errors={e} wide>
                <input type="text" value={d.store.path} aria-invalid={invalid('store.path')} onChange={(ev) => edit((x) => ({ ...x, store: { kind: 'local', path: ev.target.value } }))} />
              </Field>
            ) : (
              <>
                <Field label="Bucket" path="store.bucket" errors={e}>
                  <input type="text" value={d.store.bucket} aria-invalid={invalid('store.bucket')} onChange={(ev) => edit((x) => ({ ...x, store: { ...(x.store as Extract<SettingsDraft['store'], { kind: 's3' }>), bucket: ev.target.value.trim() } }))} />
                </Field>
                <Field label="Prefix" path="store.prefix" errors={e} hint="'' or ends with /">
                  <input type="text" value={d.store.prefix} aria-invalid={invalid('store.prefix')} onChange={(ev) => edit((x) => ({ ...x, store: { ...(x.store as Extract<SettingsDraft['store'], { kind: 's3' }>), prefix: ev.target.value.trim() } }))} />
                </Field>
                <Field label="Endpoint (S3-compatible stores only)" path="store.endpoint" errors={e}>
                  <input type="text" value={d.store.endpoint ?? ''} aria-invalid={invalid('store.endpoint')} onChange={(ev) => edit((x) => ({ ...x, store: { ...(x.store as Extract<SettingsDraft['store'], { kind: 's3' }>), endpoint: nullIfEmpty(ev.target.value) } }))} />
                </Field>
              </>
            )}
          </div>
        </fieldset>

        <fieldset>
          <legend>AWS</legend>
          <div className="form-grid">
            <Field label="Profile" path="aws.profile" errors={e} hint="from ~/.aws/config; empty: default chain">
              <input type="text" value={d.aws.profile ?? ''} aria-invalid={invalid('aws.profile')} onChange={(ev) => set('aws', { profile: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="Region" path="aws.region" errors={e}>
              <input type="text" value={d.aws.region ?? ''} placeholder="us-east-1" aria-invalid={invalid('aws.region')} onChange={(ev) => set('aws', { region: nullIfEmpty(ev.target.value) })} />
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Tiers</legend>
          <div className="toolbar" role="group" aria-label="Enabled tiers">
            {TIERS.map((t) => (
              <label key={t}>
                <input
                  type="checkbox"
                  checked={d.tiers.enabled.includes(t)}
                  onChange={(ev) => set('tiers', { enabled: ev.target.checked ? [...d.tiers.enabled, t] : d.tiers.enabled.filter((x) => x !== t) })}
                />{' '}
                {t}
              </label>
            ))}
          </div>
          {e['tiers.enabled'] && <div className="field-error">{e['tiers.enabled']}</div>}
          <div className="form-grid">
            <Field label="Lambda function" path="tiers.lambdaFunctionName" errors={e}>
              <input type="text" value={d.tiers.lambdaFunctionName ?? ''} onChange={(ev) => set('tiers', { lambdaFunctionName: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="Lambda function (enhanced)" path="tiers.lambdaFunctionNameEnhanced" errors={e}>
              <input type="text" value={d.tiers.lambdaFunctionNameEnhanced ?? ''} onChange={(ev) => set('tiers', { lambdaFunctionNameEnhanced: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="ECS cluster" path="tiers.ecsClusterName" errors={e}>
              <input type="text" value={d.tiers.ecsClusterName ?? ''} onChange={(ev) => set('tiers', { ecsClusterName: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="ECS task definition" path="tiers.ecsTaskDefinition" errors={e}>
              <input type="text" value={d.tiers.ecsTaskDefinition ?? ''} onChange={(ev) => set('tiers', { ecsTaskDefinition: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="ECS subnets" path="tiers.ecsSubnets" errors={e} hint="comma separated">
              <input type="text" value={d.tiers.ecsSubnets.join(', ')} onChange={(ev) => set('tiers', { ecsSubnets: list(ev.target.value) })} />
            </Field>
            <Field label="ECS security groups" path="tiers.ecsSecurityGroups" errors={e} hint="comma separated">
              <input type="text" value={d.tiers.ecsSecurityGroups.join(', ')} onChange={(ev) => set('tiers', { ecsSecurityGroups: list(ev.target.value) })} />
            </Field>
            <Field label="Agent queue URL (SQS)" path="tiers.queueUrl" errors={e}>
              <input type="text" value={d.tiers.queueUrl ?? ''} onChange={(ev) => set('tiers', { queueUrl: nullIfEmpty(ev.target.value) })} />
            </Field>
            <Field label="Local jobs at once" path="tiers.localConcurrency" errors={e}>
              <input type="number" min={1} max={16} value={d.tiers.localConcurrency} aria-invalid={invalid('tiers.localConcurrency')} onChange={(ev) => set('tiers', { localConcurrency: Number(ev.target.value) })} />
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Thresholds</legend>
          <div className="form-grid">
            {(
              [
                ['lambdaMaxBytes', 'Lambda: inputs up to (MiB)'],
                ['lambdaEnhancedMaxBytes', 'Lambda enhanced: up to (MiB)'],
                ['onDemandMinBytes', 'Always on-demand from (MiB)'],
                ['maxInputBytes', 'Flag inputs larger than (MiB)'],
              ] as const
            ).map(([k, label]) => (
              <Field key={k} label={label} path={`thresholds.${k}`} errors={e}>
                <input
                  type="number"
                  min={0}
                  value={Math.round(d.thresholds[k] / MB)}
                  aria-invalid={invalid(`thresholds.${k}`)}
                  onChange={(ev) => set('thresholds', { [k]: Math.round(Number(ev.target.value) * MB) })}
                />
              </Field>
            ))}
            <Field label="Fargate Spot share (0-1)" path="thresholds.spotShare" errors={e}>
              <input type="number" min={0} max={1} step={0.05} value={d.thresholds.spotShare} aria-invalid={invalid('thresholds.spotShare')} onChange={(ev) => set('thresholds', { spotShare: Number(ev.target.value) })} />
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Prices</legend>
          <p className="small">
            Price table for <strong>{s.saved.prices.region}</strong> dated <strong>{s.saved.prices.date}</strong>
            {s.saved.prices.overridden ? ' (with overrides from the config file)' : ''}. Edit <code>prices</code> in the config file to override.
          </p>
        </fieldset>

        <div className="toolbar">
          <button type="submit" className="btn primary" disabled={s.saving || hasErrors}>
            {s.saving ? 'Saving…' : 'Save'}
          </button>
          <button type="button" className="btn" onClick={() => void actions.testConnection()} disabled={s.testing || hasErrors}>
            {s.testing ? 'Testing…' : 'Test connection'}
          </button>
          <button type="button" className="btn" onClick={actions.reset}>
            Revert
          </button>
          {s.savedAt && <span className="badge ok" role="status">saved {formatTimestamp(s.savedAt)}</span>}
          {hasErrors && <span className="field-error">Fix the highlighted fields first.</span>}
        </div>
        {s.test && (
          <div className={`card`} role="status" data-testid="connection-result">
            <strong className={s.test.ok ? 'badge ok' : 'badge bad'}>{s.test.ok ? 'Connection OK' : 'Connection failed'}</strong>
            <ul className="small">
              {s.test.checks.map((c) => (
                <li key={c.name}>
                  {c.ok ? '✔' : '✘'} {c.name}: {c.message} <span className="muted">({Math.round(c.elapsedMs)} ms)</span>
                </li>
              ))}
            </ul>
          </div>
        )}
      </form>
    </section>
  );
}
