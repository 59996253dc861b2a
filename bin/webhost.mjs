#!/usr/bin/env node
// The `webhost` command. Sources are TypeScript run through tsx's loader, so a checkout runs
// without a build step; the loader is registered before anything of ours is imported.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
