import 'vitest';
import type { PlatformInfo } from './global-setup';

declare module 'vitest' {
  export interface ProvidedContext {
    platform: PlatformInfo;
  }
}
