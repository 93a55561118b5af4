#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('error [ERR_NOT_BUILT]: halo-forge is not built yet\n  fix: run `bash scripts/bootstrap` (or `npm run build`)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
