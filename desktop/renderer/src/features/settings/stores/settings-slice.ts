import type { StateCreator } from 'zustand';
import { SettingsPatchSchema, type ApiResponse, type SettingsPatch, type SettingsView } from '../../../../../../shared/common/api-contract.ts';
import { S3StoreConfigSchema } from '../../../../../../shared/common/config-schema.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export type SettingsDraft = Required<Pick<SettingsView, 'store' | 'aws' | 'tiers' | 'thresholds'>>;
export type ConnectionResult = ApiResponse<'settings.testConnection'>;

export interface SettingsState {
  readonly saved: SettingsView | null;
  readonly draft: SettingsDraft | null;
  /** Inline errors keyed by field path (`store.bucket`, `thresholds.spotShare`). */
  readonly errors: Readonly<Record<string, string>>;
  readonly loading: boolean;
  readonly saving: boolean;
  readonly testing: boolean;
  readonly test: ConnectionResult | null;
  readonly error: UiError | null;
  readonly savedAt: string | null;
}

export interface SettingsActions {
  load(): Promise<void>;
  edit(fn: (d: SettingsDraft) => SettingsDraft): void;
  reset(): void;
  save(): Promise<void>;
  testConnection(): Promise<void>;
}

export interface SettingsSlice {
  settings: SettingsState;
  settingsActions: SettingsActions;
}

export const initialSettingsState: SettingsState = {
  saved: null,
  draft: null,
  errors: {},
  loading: false,
  saving: false,
  testing: false,
  test: null,
  error: null,
  savedAt: null,
};

function draftOf(v: SettingsView): SettingsDraft {
  return { store: v.store, aws: v.aws, tiers: v.tiers, thresholds: v.thresholds };
}

/** The contract's schema decides; the bucket also gets the config's stricter S3 naming rule. */
export function validateDraft(d: SettingsDraft): { patch: SettingsPatch | null; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const parsed = SettingsPatchSchema.safeParse(d);
  if (!parsed.success) for (const i of parsed.error.issues) errors[i.path.join('.')] ??= i.message;
  if (d.store.kind === 's3') {
    const b = S3StoreConfigSchema.shape.bucket.safeParse(d.store.bucket);
    if (!b.success) errors['store.bucket'] ??= b.error.issues[0]?.message ?? 'invalid bucket name';
    if (d.store.prefix && !/^[^/].*\/$/.test(d.store.prefix)) errors['store.prefix'] ??= "a prefix ends with '/' and does not start with '/'";
  }
  if (d.aws.region && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(d.aws.region)) errors['aws.region'] ??= 'an AWS region such as us-east-1';
  if (d.thresholds.lambdaEnhancedMaxBytes < d.thresholds.lambdaMaxBytes) {
    errors['thresholds.lambdaEnhancedMaxBytes'] ??= 'must be at least the Lambda limit';
  }
  if (!d.tiers.enabled.length) errors['tiers.enabled'] ??= 'enable at least one tier';
  return { patch: Object.keys(errors).length || !parsed.success ? null : parsed.data, errors };
}

export function createSettingsSlice(services: ConsoleServices): StateCreator<SettingsSlice, [], [], SettingsSlice> {
  return (set, get) => {
    const patch = (p: Partial<SettingsState>) => set((s) => ({ settings: { ...s.settings, ...p } }));
    return {
      settings: initialSettingsState,
      settingsActions: {
        async load() {
          patch({ loading: !get().settings.saved, error: null });
          try {
            const { settings } = await services.api['settings.get']({});
            patch({ saved: settings, draft: draftOf(settings), errors: {}, loading: false });
          } catch (err) {
            patch({ loading: false, error: toUiError(err) });
          }
        },
        edit(fn) {
          const d = get().settings.draft;
          if (!d) return;
          const next = fn(d);
          patch({ draft: next, errors: validateDraft(next).errors, test: null, savedAt: null });
        },
        reset() {
          const saved = get().settings.saved;
          if (saved) patch({ draft: draftOf(saved), errors: {}, test: null });
        },
        async save() {
          const d = get().settings.draft;
          if (!d) return;
          const { patch: body, errors } = validateDraft(d);
          if (!body) return patch({ errors });
          patch({ saving: true, error: null });
          try {
            const { settings } = await services.api['settings.save']({ patch: body });
            patch({ saved: settings, draft: draftOf(settings), saving: false, savedAt: new Date().toISOString() });
          } catch (err) {
            patch({ saving: false, error: toUiError(err) });
          }
        },
        async testConnection() {
          const d = get().settings.draft;
          if (!d) return;
          const { patch: body, errors } = validateDraft(d);
          if (!body) return patch({ errors });
          patch({ testing: true, test: null, error: null });
          try {
            patch({ test: await services.api['settings.testConnection']({ patch: body }), testing: false });
          } catch (err) {
            patch({ testing: false, error: toUiError(err) });
          }
        },
      },
    };
  };
}
