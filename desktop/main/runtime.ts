import { loadConfig } from '../../shared/node/config.ts';
import { dataHome } from '../../shared/node/data-home.ts';
import type { Logger } from '../../shared/node/log.ts';
import { createServices, type ServicesOptions } from './services/index.ts';
import type { ConsoleServices } from './services/types.ts';

/**
 * Loads the configuration (flags > env > file > defaults) and builds the console's services: the one start-up path
 * shared by the Electron main process and `tiercast console --web`.
 */
export async function startConsoleServices(options: {
  log: Logger;
  configPath?: string;
  home?: string;
  version?: string;
  extra?: Partial<Omit<ServicesOptions, 'home' | 'config' | 'log'>>;
}): Promise<{ services: ConsoleServices; home: string }> {
  const home = options.home ?? dataHome();
  const config = await loadConfig({ home, ...(options.configPath ? { configPath: options.configPath } : {}) });
  const services = await createServices({
    home,
    config,
    log: options.log,
    ...(options.configPath ? { configPath: options.configPath } : {}),
    ...(options.version ? { version: options.version } : {}),
    ...options.extra,
  });
  return { services, home };
}
