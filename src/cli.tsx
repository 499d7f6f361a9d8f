#!/usr/bin/env node
// The entry point. Ink draws only a final frame when it believes it runs in CI (it reads the CI variable when it
// loads); on a terminal the live screen is what the user asked for, so the variable goes before Ink is loaded.
if (process.stdout.isTTY && process.stdin.isTTY) delete process.env.CI;
// React's development build checks and logs every element it creates: measured here, it took a third of
// pmptop's CPU while redrawing. pmptop is not a React app under development: the production build, unless the
// user asks otherwise.
process.env.NODE_ENV ??= 'production';
await import('./program.js');
