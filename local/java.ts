import { spawnSync } from 'node:child_process';

/** DynamoDB Local needs Java 17+. Where it is missing we say in one line how to install it. */
export function javaMissingMessage(): string | null {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return null;
  const install =
    process.platform === 'darwin'
      ? 'brew install openjdk@17'
      : 'sudo apt-get install -y openjdk-17-jre-headless (Debian/Ubuntu)';
  return `Java 17 is required for DynamoDB Local but \`java\` was not found. Install it with: ${install}`;
}
