import type { TiercastConfig } from '../../../../shared/common/config-schema.ts';
import { loadConfig, saveConfig } from '../../../../shared/node/config.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';
import { testConnection } from '../connection-test.ts';
import { configPatchOf, settingsView } from '../settings.ts';

/** `settings.*`: the Settings screen's view of the config (services/settings.ts), saved into the file it came from. */

export interface SettingsDeps {
  readonly home: string;
  /** The --config file the console read; absent: the data home's config.json. */
  readonly configPath?: string;
  readonly config: () => TiercastConfig;
  /** Makes the console follow the saved config (backend.ts: store, jobs service, worker). */
  readonly apply: (config: TiercastConfig) => Promise<void>;
}

export function settingsHandlers(deps: SettingsDeps): NamespaceHandlers<'settings'> {
  const { home, configPath } = deps;
  const view = () => ({ settings: settingsView(deps.config(), home, configPath) });
  return {
    async 'settings.get'() {
      return view();
    },
    async 'settings.save'(req) {
      // Into the file the console read its settings from: the data home's config.json, or the --config file.
      const file = configPath ? { configPath } : {};
      await saveConfig(home, configPatchOf(req.patch), file);
      await deps.apply(await loadConfig({ home, ...file }));
      return view();
    },
    async 'settings.testConnection'(req) {
      return testConnection(deps.config(), req.patch, home);
    },
  };
}
