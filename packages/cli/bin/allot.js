#!/usr/bin/env node
// The `allot` command. The TypeScript build (`npm ci` runs it in `prepare`) writes ../dist.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv);
