/** Run before `npm test`: stops at once, in one line, when something the suite needs is missing. */
import { javaMissingMessage } from './java';

const java = javaMissingMessage();
if (java) {
  console.error(`error: ${java}`);
  process.exit(1);
}
