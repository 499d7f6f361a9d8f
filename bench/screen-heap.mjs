#!/usr/bin/env node
// The live screen's memory over many redraws, in a process of its own (run with --expose-gc): the demo recording
// widened to 32 threads goes through the store and the real Ink screen (160x45, written to a null terminal), in
// the whole-run window so that every row's text changes at every redraw, as in a long live session. Prints one
// JSON line: the heap after a full GC at 5 checkpoints, and the CPU per redraw.
// Usage: node --expose-gc bench/screen-heap.mjs [REDRAWS] (default 2,000).

import {PassThrough, Writable} from 'node:stream';

// React's production build, as pmptop runs it (src/cli.tsx): its development build logs a performance measure for
// every component it renders, which both costs several times the CPU and keeps growing the heap. React reads the
// variable when it loads, so the imports below come after it.
process.env.NODE_ENV ??= 'production';
const {default: React} = await import('react');
const {render} = await import('ink');
const {Store} = await import('../dist/src/app/store.js');
const {IoSide} = await import('../dist/src/runtime.js');
const {default: App} = await import('../dist/components/App.js');
const {IoPanel} = await import('../dist/components/IoPanel.js');
const {widenedRecording} = await import('./recording.mjs');

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const redraws = Number(process.argv[2] ?? 2000);
const {samples: widened, readings} = widenedRecording(32);

const stdin = new PassThrough();
Object.assign(stdin, {isTTY: true, setRawMode: () => stdin, ref() {}, unref() {}});
const stdout = new Writable({write: (_chunk, _encoding, done) => done()});
Object.assign(stdout, {columns: 160, rows: 45, isTTY: true});
const store = new Store({info: {pid: 1, command: 'replay', backend: 'replay', notes: [], replay: true}, intervalMs: 100, refreshMs: 100});
store.setSize(160, 45);
store.dispatch({type: 'cycle-window'});
store.dispatch({type: 'cycle-window'}); // whole run
// The I/O panel as the live screen has it, fed the recording's /proc readings (one per 10 samples, as at 10/s).
const io = new IoSide();
const panel = ({view, width}) => (view.extra.io ? React.createElement(IoPanel, {view: view.extra.io, width}) : null);
let drawn = 0;
const ink = render(React.createElement(App, {store, sidePanel: panel}), {stdout, stdin, exitOnCtrlC: false, maxFps: 1000, patchConsole: false, onRender: () => drawn++});

const heapMb = () => {
	globalThis.gc();
	globalThis.gc();
	return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
};
const checkpoints = [];
let i = 0;
let cpuMs = 0;
while (drawn < redraws) {
	for (let j = 0; j < 10; j++, i++) {
		const s = widened[i % widened.length];
		store.ingest({atMs: i * 100, stopMs: s.stopMs, threads: s.threads, errors: s.errors});
	}
	// Readings shifted onto the replay's clock, so that rates and sparklines move as live.
	const r = readings[(i / 10) % readings.length];
	const round = Math.floor(i / 10 / readings.length);
	const span = readings[readings.length - 1].atMs - readings[0].atMs + 1000;
	io.ingest({...r, atMs: r.atMs + round * span});
	store.setExtra('io', io.view(r.atMs + round * span));
	const c0 = process.cpuUsage();
	store.flush();
	await new Promise(resolve => setImmediate(resolve));
	const c = process.cpuUsage(c0);
	cpuMs += (c.user + c.system) / 1000;
	if (drawn >= ((checkpoints.length + 1) * redraws) / 5) checkpoints.push(heapMb());
}
ink.unmount();
const half = checkpoints.slice(2);
console.log(JSON.stringify({redraws: drawn, heapMb: checkpoints, lastThreeVaryPct: Math.round(((Math.max(...half) - Math.min(...half)) / Math.min(...half)) * 1000) / 10, cpuMsPerRedraw: Math.round((cpuMs / drawn) * 10) / 10}));
process.exit(0);
