/**
 * Imported first by bench/run.ts, before any module that creates an AWS SDK client: Lambda's
 * Node 24 prints no Node-version warning, Node 20 here would (once per client, on stderr).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
