import type { RuntimeConfig } from './config';
import type { Store } from './state';

/** What every handler works with. `config` is replaced, never mutated, by POST /_emulator/config. */
export interface Emu {
  store: Store;
  config: RuntimeConfig;
  now: () => number;
}
