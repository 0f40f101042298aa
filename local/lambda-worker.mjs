/**
 * One Lambda execution environment of the local platform (see local/lambda-runtime.ts): a worker
 * thread that imports one function's deployed bundle, with the environment its template gives it,
 * and runs one invocation at a time. Events arrive and results leave as JSON text, as they do
 * between Lambda's runtime API and the function.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { bundlePath, handlerName, functionName, memoryMb, logGroupName, region, accountId } = workerData;

/** Init runs once per environment, before the first invocation, as Lambda's init phase does. */
const init = import(pathToFileURL(bundlePath).href).then((m) => {
  const handler = m[handlerName];
  if (typeof handler !== 'function') {
    const e = new Error(`${bundlePath} has no exported function "${handlerName}"`);
    e.name = 'Runtime.HandlerNotFound';
    throw e;
  }
  return handler;
});
init.catch(() => {}); // reported on the first invocation

parentPort.on('message', async (msg) => {
  const { id, payload, requestId, deadline } = msg;
  let handler;
  try {
    handler = await init;
  } catch (e) {
    parentPort.postMessage({
      id,
      ok: false,
      errorType: errorType(e, 'Runtime.ImportModuleError'),
      errorMessage: errorMessage(e),
    });
    return;
  }
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName,
    logStreamName: `local/[$LATEST]${threadTag()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
  try {
    const out = await handler(JSON.parse(payload), context);
    parentPort.postMessage({ id, ok: true, payload: out === undefined ? 'null' : JSON.stringify(out) });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, errorType: errorType(e, 'Error'), errorMessage: errorMessage(e) });
  }
});

function errorType(e, fallback) {
  return typeof e?.name === 'string' && e.name ? e.name : fallback;
}
function errorMessage(e) {
  return typeof e?.message === 'string' ? e.message : String(e);
}
function threadTag() {
  return Math.random().toString(16).slice(2, 18);
}
