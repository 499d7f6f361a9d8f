#!/usr/bin/env node
// npm run bench: what a sample costs the target, persistent MI against the classic one-shot gdb -batch.
// On the demo target with 8 and 32 threads: stop time per sample (median, p95) per backend and the ratio,
// and the target's throughput loss at 10 samples/s. Also the parse + aggregate ingest rate.
// Figures vary with the machine's load; run it on an otherwise idle machine.

import {readFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {startDemo} from '../dist/src/demo.js';
import {execFileSync} from 'node:child_process';
import {Analysis} from '../dist/src/profile/analysis.js';
import {MiBackend} from '../dist/src/gdb/mi-backend.js';
import {BatchBackend} from '../dist/src/gdb/batch-backend.js';
import {Profile} from '../dist/src/profile/aggregate.js';
import {parseBatchBacktrace} from '../dist/src/gdb/batch-parse.js';
import {parseMiLine} from '../dist/src/gdb/mi-parse.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const SAMPLES_MI = quick ? 30 : 100;
const SAMPLES_BATCH = quick ? 5 : 15;
const LOSS_SECONDS = quick ? 2 : 3;
const LOSS_CYCLES = quick ? 2 : 4;

const sleep = ms => new Promise(r => setTimeout(r, ms));
const quantile = (xs, q) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function progress(file) {
	try {
		return JSON.parse(readFileSync(file, 'utf8'));
	} catch {
		return undefined;
	}
}

// Work done by the demo: spin iterations when it reports them, else worker reads.
function work(p) {
	return p.spins ?? p.vcpu_rounds;
}

async function rate(file, seconds) {
	const a = progress(file);
	const t0 = performance.now();
	await sleep(seconds * 1000);
	const b = progress(file);
	return (work(b) - work(a)) / ((performance.now() - t0) / 1000);
}

async function withDemo(threads, fn, vcpus = 2) {
	const dir = mkdtempSync(join(tmpdir(), 'pmptop-bench-'));
	const file = join(dir, 'progress.json');
	// main + call_rcu + vCPUs + workers = threads
	const demo = await startDemo(['--vcpus', String(vcpus), '--workers', String(threads - 2 - vcpus), '--progress', file]);
	try {
		await sleep(500);
		return await fn(demo, file);
	} finally {
		await demo.kill();
		rmSync(dir, {recursive: true, force: true});
	}
}

// n samples; a sample that fails (a timeout on a loaded machine) is counted, its backend replaced, and the
// run goes on, as pmptop's sampler does.
async function stopTimes(make, n, gapMs) {
	let backend = make();
	await backend.start();
	const stops = [];
	const spans = [];
	let failures = 0;
	let lastError = '';
	try {
		for (let i = 0; i < n && failures < 5; i++) {
			const t = performance.now();
			try {
				const s = await backend.sample();
				spans.push(performance.now() - t);
				stops.push(s.stopMs);
			} catch (error) {
				failures++;
				lastError = error.message;
				await backend.stop().catch(() => {});
				backend = make();
				await backend.start();
			}
			await sleep(gapMs);
		}
	} finally {
		await backend.stop();
	}
	if (stops.length === 0) throw new Error(`no sample succeeded: ${lastError}`);
	return {stops, spans, failures, lastError};
}

// Throughput loss at `intervalMs`: the demo's work rate while sampled against while not attached at all. Rates off and
// on alternate (off, on, off, on, off...) and each on-rate is set against the mean of the two off-rates around it, so
// that drifts of the machine's speed cancel out instead of counting as loss; the figure is the median of the cycles.
async function loss(make, file, intervalMs, {cycles = LOSS_CYCLES, seconds = LOSS_SECONDS} = {}) {
	const losses = [];
	const stops = [];
	let samples = 0;
	let sampledSecs = 0;
	let selfCpuS = 0;
	let gdbCpuS = 0;
	let replaced = 0;
	let off = await rate(file, seconds);
	for (let cycle = 0; cycle < cycles; cycle++) {
		let backend = make();
		await backend.start();
		let running = true;
		// gdb's CPU, summed over every gdb this cycle used (a failed sample replaces it).
		let gdb = backend.gdbPid;
		let gdbStart = gdb ? cpuTicksOrNaN(gdb) : NaN;
		let gdbTicks = 0;
		const countGdb = () => {
			if (gdb) gdbTicks += cpuTicksOrNaN(gdb) - gdbStart;
		};
		const loop = (async () => {
			while (running) {
				const t = performance.now();
				try {
					stops.push((await backend.sample()).stopMs);
				} catch {
					// As pmptop's sampler does: a new gdb.
					countGdb();
					await backend.stop().catch(() => {});
					replaced++;
					backend = make();
					await backend.start();
					gdb = backend.gdbPid;
					gdbStart = gdb ? cpuTicksOrNaN(gdb) : NaN;
				}
				await sleep(Math.max(0, intervalMs - (performance.now() - t)));
			}
		})();
		let on;
		try {
			await sleep(300);
			// The profiler's own CPU meanwhile (this process, which runs the backend, and gdb): on a machine whose
			// cores the demo's spinning vCPUs fill, every CPU second the profiler takes is one the demo does not get.
			gdbStart = gdb ? cpuTicksOrNaN(gdb) : NaN;
			gdbTicks = 0;
			const cpu0 = process.cpuUsage();
			const n0 = stops.length;
			const t0 = performance.now();
			on = await rate(file, seconds);
			const secs = (performance.now() - t0) / 1000;
			const cpu = process.cpuUsage(cpu0);
			countGdb();
			selfCpuS += (cpu.user + cpu.system) / 1e6;
			gdbCpuS += gdbTicks / 100;
			samples += stops.length - n0;
			sampledSecs += secs;
		} finally {
			running = false;
			await loop.catch(() => {});
			await backend.stop().catch(() => {});
		}
		const before = off;
		off = await rate(file, seconds);
		losses.push(1 - on / ((before + off) / 2));
	}
	if (replaced > 0) process.stderr.write(`    (throughput runs: gdb replaced ${replaced} time(s) after a failed sample)\n`);
	return {loss: quantile(losses, 0.5), losses, stops, achievedHz: samples / sampledSecs, selfPct: (selfCpuS / sampledSecs) * 100, gdbPct: (gdbCpuS / sampledSecs) * 100};
}

function cpuTicksOrNaN(pid) {
	try {
		return cpuTicks(pid);
	} catch {
		return NaN;
	}
}

const rows = [];
for (const threads of [8, 32]) {
	await withDemo(threads, async (demo, file) => {
		const pid = demo.pid;
		const variants = [
			['mi (-stack-list-frames)', () => new MiBackend({pid}), SAMPLES_MI, 50],
			// gdb at SCHED_FIFO 1 (--gdb-rt): the demo's spinning vCPUs cannot delay it while the target is stopped.
			['mi --gdb-rt', () => new MiBackend({pid, realtime: true}), SAMPLES_MI, 50],
			['mi (python walker)', () => new MiBackend({pid, python: true}), SAMPLES_MI, 50],
			['mi --non-stop', () => new MiBackend({pid, nonStop: true}), SAMPLES_MI, 50],
			// One gdb -batch per sample: on a machine the demo saturates, one can take more than 10 s.
			['batch (gdb -batch)', () => new BatchBackend({pid, timeoutMs: 30_000}), SAMPLES_BATCH, 50],
		];
		const result = {threads};
		for (const [name, make, n, gap] of variants) {
			// A sample that times out (a loaded machine) is reported, not fatal: the other figures still print.
			try {
				const {stops, spans, failures, lastError} = await stopTimes(make, n, gap);
				if (failures > 0) process.stderr.write(`  ${threads} threads, ${name}: ${failures} failed sample(s), the last: ${lastError}\n`);
				const l = await loss(make, file, 100);
				result[name] = {median: quantile(stops, 0.5), p95: quantile(stops, 0.95), span: quantile(spans, 0.5), loss: l.loss, hz: l.achievedHz, selfPct: l.selfPct, gdbPct: l.gdbPct, failures};
				process.stderr.write(`  ${threads} threads, ${name}: median ${fmt(quantile(stops, 0.5))} ms, p95 ${fmt(quantile(stops, 0.95))} ms, sample ${fmt(quantile(spans, 0.5))} ms, loss ${fmt(l.loss * 100)}% at ${fmt(l.achievedHz)}/s (sampler ${fmt(l.selfPct)}% + gdb ${fmt(l.gdbPct)}% of a core)\n`);
			} catch (error) {
				result[name] = {median: NaN, p95: NaN, span: NaN, loss: NaN, hz: NaN, selfPct: NaN, gdbPct: NaN};
				process.stderr.write(`  ${threads} threads, ${name}: failed: ${error.message}\n`);
			}
		}
		rows.push(result);
	});
}

console.log('\nTarget stop time per sample and throughput loss at 10 samples/s (batch cannot reach 10/s: achieved rate shown).');
console.log('non-stop: the stop is the longest any one thread was held (the others ran); "sample" is the whole round.\n');
console.log('threads  backend                    stop median   stop p95  sample median   loss    rate  sampler+gdb CPU  batch/this (median)');
for (const r of rows) {
	const batch = r['batch (gdb -batch)'];
	for (const name of ['mi (-stack-list-frames)', 'mi --gdb-rt', 'mi (python walker)', 'mi --non-stop', 'batch (gdb -batch)']) {
		const x = r[name];
		console.log(`${String(r.threads).padStart(7)}  ${name.padEnd(26)} ${fmt(x.median).padStart(8)} ms ${fmt(x.p95).padStart(8)} ms ${fmt(x.span).padStart(10)} ms ${fmt(x.loss * 100).padStart(6)}% ${fmt(x.hz).padStart(5)}/s ${`${fmt(x.selfPct, 0)}+${fmt(x.gdbPct, 0)}%`.padStart(15)} ${fmt(batch.median / x.median).padStart(8)}x`);
	}
}

// Throughput loss with a core free: the demo with one spinning vCPU (8 threads), so that gdb and this process do not
// take CPU time from the vCPU (on this 2-core machine two vCPUs fill both cores, and the loss above then is mostly
// the profiler's CPU, not the stops).
{
	const freeCore = {};
	await withDemo(8, async (demo, file) => {
		await sleep(1000);
		for (const [name, make] of [['mi', () => new MiBackend({pid: demo.pid})], ['batch', () => new BatchBackend({pid: demo.pid, timeoutMs: 30_000})]]) {
			const l = await loss(make, file, 100, {cycles: quick ? 3 : 8});
			freeCore[name] = l;
			console.log(`throughput loss with a core free (8 threads, 1 vCPU), ${name} at ${fmt(l.achievedHz)}/s: median ${fmt(l.loss * 100)}% (cycles: ${l.losses.map(x => fmt(x * 100)).join(' ')} %); stop median ${fmt(quantile(l.stops, 0.5))} ms, p95 ${fmt(quantile(l.stops, 0.95))} ms`);
		}
	}, 1);
	console.log(`  batch/mi loss: ${fmt(freeCore.batch.loss / freeCore.mi.loss)}x (batch at ${fmt(freeCore.batch.achievedHz)} samples/s, mi at ${fmt(freeCore.mi.achievedHz)}/s)`);
}

// Parse + aggregate throughput: real gdb output of the demo target, parsed and ingested over and over.
const text = readFileSync(new URL('../test/fixtures/batch/demo-named.txt', import.meta.url), 'utf8');
const rounds = quick ? 5_000 : 20_000;
const profile = new Profile();
const t0 = performance.now();
let threadStacks = 0;
for (let i = 0; i < rounds; i++) {
	const threads = parseBatchBacktrace(text);
	profile.ingest({atMs: i * 100, stopMs: 1, threads, errors: []});
	threadStacks += threads.length;
}
const secs = (performance.now() - t0) / 1000;
console.log(`\nparse + aggregate: ${Math.round(threadStacks / secs).toLocaleString('en-US')} thread-stacks/s (${threadStacks.toLocaleString('en-US')} in ${fmt(secs, 2)} s); RSS ${fmt(process.memoryUsage().rss / 1e6)} MB`);

// MI parsing, the default backend's: the -stack-list-frames answers of the real QEMU transcript, parsed over and over.
{
	const transcript = new URL('../../shared/fixtures/qemu/default-gdb-mi-transcript.txt', import.meta.url);
	try {
		const lines = readFileSync(transcript, 'utf8').split('\n').filter(l => l.includes(' << ') && l.includes('stack=[')).map(l => l.slice(l.indexOf(' << ') + 4));
		const frames = lines.reduce((n, l) => n + (l.match(/frame=\{/g) ?? []).length, 0);
		const bytes = lines.reduce((n, l) => n + l.length, 0);
		const reps = quick ? 500 : 2000;
		const t1 = performance.now();
		for (let i = 0; i < reps; i++) for (const l of lines) parseMiLine(l);
		const s = (performance.now() - t1) / 1000;
		console.log(`MI parse (real QEMU -stack-list-frames answers): ${Math.round((reps * frames) / s).toLocaleString('en-US')} frames/s, ${fmt((reps * bytes) / s / 1e6)} MB/s`);
	} catch (error) {
		console.log(`(MI parse figure skipped: ${error.message.split('\n')[0]})`);
	}
}

// pmptop's own CPU at 10 samples/s with 32 threads, screen redrawing (in tmux), and gdb's CPU beside it.
function cpuTicks(pid) {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return Number(f[11]) + Number(f[12]);
}
function childrenOf(pid) {
	try {
		return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
	} catch {
		return [];
	}
}
function findDescendant(pid, comm) {
	const stack = [pid];
	while (stack.length) {
		for (const c of childrenOf(stack.pop())) {
			try {
				if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === comm) return c;
			} catch {}
			stack.push(c);
		}
	}
	return undefined;
}
try {
	execFileSync('tmux', ['-V']);
	{
		// pmptop starts the demo itself (--demo, 2 vCPUs + 28 workers + main + call_rcu = 32 threads), as `npm start`
		// does: the demo then shares pmptop's session. Attached with --pid to a demo in a session of its own, on this
		// machine whose cores the demo fills, pmptop reached only 4-7 samples/s (see the README).
		const session = `pmptop-bench-${process.pid}`;
		const cli = new URL('../dist/src/cli.js', import.meta.url).pathname;
		execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '45', `node ${cli} --demo --workers 28 --interval 100 --max-overhead 0`]);
		try {
			// The first seconds carry the attach, JIT compilation and the first redraws (a 10 s window right after a
			// 4 s start measured 5.8% where the next 30 s measured 3.5%): the steady state is what runs for hours.
			await sleep(10_000);
			// pmptop renames its process (meow sets process.title): look for it by that name under the pane.
			const panePid = Number(execFileSync('tmux', ['display-message', '-p', '-t', session, '#{pane_pid}'], {encoding: 'utf8'}).trim());
			const node = readFileSync(`/proc/${panePid}/comm`, 'utf8').trim() === 'pmptop' ? panePid : findDescendant(panePid, 'pmptop');
			if (node === undefined) throw new Error(`pmptop did not start in tmux: ${execFileSync('tmux', ['capture-pane', '-p', '-t', session], {encoding: 'utf8'}).trim().split('\n').slice(-3).join(' / ')}`);
			const gdb = findDescendant(node, 'gdb');
			// The relay between gdb and pmptop (cat in gdb's wrapper): its CPU is reported beside pmptop's own.
			const relay = findDescendant(node, 'cat');
			const seconds = quick ? 15 : 30;
			const n0 = cpuTicks(node);
			const g0 = gdb ? cpuTicks(gdb) : 0;
			const r0 = relay ? cpuTicks(relay) : 0;
			await sleep(seconds * 1000);
			const hz = 100;
			const nodePct = ((cpuTicks(node) - n0) / hz / seconds) * 100;
			const gdbPct = gdb ? ((cpuTicks(gdb) - g0) / hz / seconds) * 100 : NaN;
			const relayPct = relay ? ((cpuTicks(relay) - r0) / hz / seconds) * 100 : NaN;
			// The rate pmptop reached (the header's "N samples  R/s"): on a machine the demo saturates it is below 10/s.
			const pane = execFileSync('tmux', ['capture-pane', '-p', '-t', session], {encoding: 'utf8'});
			const reached = /samples\s+([\d.]+)\/s/.exec(pane)?.[1];
			console.log(`\npmptop's own CPU, live screen (160x45), 32 threads, asked for 10 samples/s, reached ${reached ?? '?'}/s: ${fmt(nodePct)}% of one core; gdb beside it: ${fmt(gdbPct)}%, the relay (cat) ${fmt(relayPct)}%`);
		} finally {
			execFileSync('tmux', ['send-keys', '-t', session, 'q']);
			// pmptop stops its demo on quit: give it the time (the session ends with it), then end the session anyway.
			for (let i = 0; i < 40; i++) {
				await sleep(250);
				try {
					execFileSync('tmux', ['has-session', '-t', session], {stdio: 'ignore'});
				} catch {
					break;
				}
			}
			try {
				execFileSync('tmux', ['kill-session', '-t', session], {stdio: 'ignore'});
			} catch {}
		}
	}
} catch (error) {
	console.log(`\n(pmptop CPU figure skipped: ${error.message.split('\n')[0]})`);
}

// RSS after N replayed samples of 32 threads through the live screen's store, in a process of its own.
{
	const total = quick ? 100_000 : 1_000_000;
	const out = execFileSync(process.execPath, [new URL('./replay-rss.mjs', import.meta.url).pathname, String(total)], {encoding: 'utf8'});
	const r = JSON.parse(out.trim().split('\n').pop());
	console.log(`replay of ${r.samples.toLocaleString('en-US')} samples x ${r.threads} threads through the store: ${r.threadStacksPerS.toLocaleString('en-US')} thread-stacks/s; RSS ${r.rssMb.map(x => x.toFixed(0)).join(' ')} MB; final ${r.finalRssMb} MB, max ${r.maxRssMb} MB; last half varies ${r.lastHalfVariesPct}%`);
}

// The live screen's heap over many redraws (Ink's text caches are bounded by patches/ink+6.8.0.patch; unpatched
// they kept every distinct row text: about 10 MB per 1,000 redraws of this screen).
{
	const redraws = quick ? 500 : 2000;
	const out = execFileSync(process.execPath, ['--expose-gc', new URL('./screen-heap.mjs', import.meta.url).pathname, String(redraws)], {encoding: 'utf8', env: {...process.env, NODE_ENV: 'production'}});
	const r = JSON.parse(out.trim().split('\n').pop());
	console.log(`live screen (160x45, 32 threads, every row changing) over ${r.redraws.toLocaleString('en-US')} redraws: heap after GC ${r.heapMb.join(' ')} MB (last three vary ${r.lastThreeVaryPct}%); ${r.cpuMsPerRedraw} ms of CPU per redraw`);
}
