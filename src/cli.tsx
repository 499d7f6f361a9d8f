#!/usr/bin/env node
// The entry point. Ink draws only a final frame when it believes it runs in CI (it reads the CI variable when it
// loads); on a terminal the live screen is what the user asked for, so the variable goes before Ink is loaded.
if (process.stdout.isTTY && process.stdin.isTTY) delete process.env.CI;
await import('./program.js');
