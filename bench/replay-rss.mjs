#!/usr/bin/env node
// pmptop's memory over a long session, in a process of its own (nothing else in its heap): N samples of 32
// threads go through the live screen's store (aggregate, windows, roles, stop figures, view builds at the
// redraw rate), taken from the shipped demo recording and widened to 32 threads (each recorded thread four
// times, under new TIDs). Prints one JSON line: RSS at 20 checkpoints, the ingest rate, and how much RSS varies
// over the last half. Usage: node bench/replay-rss.mjs [N] (default 1,000,000).

import {performance} from 'node:perf_hooks';
import {Store} from '../dist/src/app/store.js';
import {widenedRecording} from './recording.mjs';

const total = Number(process.argv[2] ?? 1_000_000);
const THREADS = 32;
const {samples: widened} = widenedRecording(THREADS);

const store = new Store({info: {pid: 1, command: 'replay', backend: 'replay', notes: [], replay: true}, intervalMs: 100});
// The screen's view is built at most 4 times a second (the store's redraw bound); subscribing makes it publish.
let views = 0;
store.subscribe(() => views++);

const rss = [];
const t0 = performance.now();
const checkpoint = Math.max(1, Math.floor(total / 20));
for (let i = 0; i < total; i++) {
	const s = widened[i % widened.length];
	store.ingest({atMs: i * 100, stopMs: s.stopMs, threads: s.threads, errors: s.errors});
	// Let timers run (the redraw) now and then, as the live event loop does.
	if (i % 1000 === 999) await new Promise(resolve => setImmediate(resolve));
	if ((i + 1) % checkpoint === 0) rss.push(Math.round(process.memoryUsage().rss / 1e5) / 10);
}
const secs = (performance.now() - t0) / 1000;
const half = rss.slice(Math.floor(rss.length / 2));
const lastHalfVariesPct = ((Math.max(...half) - Math.min(...half)) / Math.min(...half)) * 100;
console.log(JSON.stringify({
	samples: total,
	threads: THREADS,
	threadStacksPerS: Math.round((total * THREADS) / secs),
	seconds: Math.round(secs * 10) / 10,
	rssMb: rss,
	finalRssMb: rss[rss.length - 1],
	maxRssMb: Math.max(...rss),
	lastHalfVariesPct: Math.round(lastHalfVariesPct * 10) / 10,
	views,
}));
process.exit(0);
