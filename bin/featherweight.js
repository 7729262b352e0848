#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm ci` builds dist/ through the prepare script.
import('../dist/cli/bin.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('featherweight: dist/ is missing; run `npm run build` (npm ci does it for you).');
    process.exit(1);
  }
  throw err;
});
