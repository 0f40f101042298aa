import type { MerchantSettings, RuntimeConfig } from './config';
import type { Store } from './state';

/** What every handler works with. `config` is replaced, never mutated, by POST /_emulator/config. */
export interface Emu {
  store: Store;
  config: RuntimeConfig;
  /** Per-merchant overrides of some settings (POST /_emulator/merchants/{id}/config); in memory only. */
  merchantSettings: Map<string, Partial<MerchantSettings>>;
  /** The emulator's clock; within a request of a known merchant, that merchant's clock (see `clockFor`). */
  now: () => number;
}

/** A setting as it applies to one merchant: its override, else the emulator-wide value. */
export function settingFor<K extends keyof MerchantSettings>(
  emu: Emu,
  merchantId: string,
  key: K,
): MerchantSettings[K] {
  return emu.merchantSettings.get(merchantId)?.[key] ?? emu.config[key];
}
