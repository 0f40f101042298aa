import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/response';

/** GET /health: no key, no I/O — it says the function and its gateway answer. */
export const handler = httpHandler({
  'GET /health': async () => json(200, { status: 'ok' }),
});
