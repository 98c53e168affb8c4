#!/usr/bin/env node
// The `replay` CLI. Commands are compiled to dist/ by `npm run build`.
import { main } from '../dist/commands/main.js';

await main(process.argv.slice(2), import.meta.url);
