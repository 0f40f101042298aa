/**
 * The browser tests' platform: `npm start` in a child process, as for the integration tests
 * (test/global-setup.ts), with its own DATA_DIR and log (reports/platform-e2e.log).
 */
import type { TestProject } from 'vitest/node';
import { startPlatformProcess } from '../global-setup';

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return startPlatformProcess(project, { name: 'e2e' });
}
