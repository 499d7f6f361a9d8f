#!/usr/bin/env node
// npm run soak [-- --minutes 120 --interval 100]: pmptop sampling the demo target for hours, as next to a long
// VM test. Every minute: pmptop's RSS and open file descriptors, gdb's RSS, samples taken, the target's state.
// Not part of npm test (it takes hours); the figures go in the closing note.

import {spawn} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import {startDemo} from '../dist/src/demo.js';

const arg = (name, fallback) => {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const minutes = arg('minutes', 120);
const intervalMs = arg('interval', 100);

const rssMb = pid => {
	try {
		return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
	} catch {
		return NaN;
	}
};
const fds = pid => {
	try {
		return readdirSync(`/proc/${pid}/fd`).length;
	} catch {
		return NaN;
	}
};
const children = pid => {
	try {
		return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
	} catch {
		return [];
	}
};
const comm = pid => {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
};
const gdbOf = pid => {
	const stack = [pid];
	while (stack.length) {
		for (const c of children(stack.pop())) {
			if (comm(c) === 'gdb') return c;
			stack.push(c);
		}
	}
	return undefined;
};
const states = pid => readdirSync(`/proc/${pid}/task`).map(t => {
	const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
	return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
}).join('');

const demo = await startDemo(['--vcpus', '2', '--workers', '4']);
// pmptop headless for the whole soak, recording nothing: the live data path without a screen.
const pmptop = spawn(process.execPath, [new URL('../dist/src/cli.js', import.meta.url).pathname, '--pid', String(demo.pid), '--duration', String(minutes * 60), '--interval', String(intervalMs), '--max-overhead', '0', '--format', 'json'], {stdio: ['ignore', 'pipe', 'inherit']});
let out = '';
pmptop.stdout.on('data', d => (out += d));
// Interrupted: stop pmptop (it detaches) and the demo target, leave nothing running.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.on(signal, async () => {
		pmptop.kill('SIGTERM');
		await new Promise(r => pmptop.once('exit', r));
		await demo.kill();
		process.exit(130);
	});
}
console.log(`soak: ${minutes} min at ${intervalMs} ms; demo PID ${demo.pid}, pmptop PID ${pmptop.pid}`);
console.log('minute  pmptop_rss_mb  pmptop_fds  gdb_rss_mb  target_states');
const first = [];
for (let m = 1; m <= minutes; m++) {
	await new Promise(r => setTimeout(r, 60_000));
	const row = [m, rssMb(pmptop.pid).toFixed(1), fds(pmptop.pid), rssMb(gdbOf(pmptop.pid)).toFixed(1), states(demo.pid)];
	if (m <= 2) first.push(row);
	console.log(row.join('\t'));
}
await new Promise(r => pmptop.on('exit', r));
const report = JSON.parse(out);
console.log(`samples ${report.samples}, stop median ${report.stop.medianMs.toFixed(2)} ms, p95 ${report.stop.p95Ms.toFixed(2)} ms`);
await demo.kill();
