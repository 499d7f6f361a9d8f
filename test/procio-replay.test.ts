// Whole recorded VM runs (a 298 MiB copy over 9p, sampled every 0.5 s) replayed through the tracker and hint.
import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import type {IoCounters} from '../src/procio/parse.js';
import {procOk} from '../src/procio/parse.js';
import type {IoReading, IoTrackerState} from '../src/procio/rate.js';
import {createIoTracker, guessWorkerTids, ingestIoReading, windowTotals} from '../src/procio/rate.js';
import {MSIZE_HINT_MIN_READS, msizeHint} from '../src/procio/hint.js';
import {parseShares} from '../src/procio/shares.js';
import {toIoReport, toIoView} from '../src/procio/view.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);

interface RawCounters {
	rchar: number; wchar: number; syscr: number; syscw: number;
	read_bytes: number; write_bytes: number; cancelled_write_bytes: number;
}
interface RawRow {
	t: number;
	proc: RawCounters;
	tasks: Record<string, RawCounters & {comm: string}>;
}

function counters(raw: RawCounters): IoCounters {
	return {
		rchar: raw.rchar, wchar: raw.wchar, syscr: raw.syscr, syscw: raw.syscw,
		readBytes: raw.read_bytes, writeBytes: raw.write_bytes, cancelledWriteBytes: raw.cancelled_write_bytes,
	};
}

function loadReadings(name: string): IoReading[] {
	const rows = readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l) as RawRow);
	return rows.map(row => {
		const tids = Object.keys(row.tasks).map(Number);
		return {
			atMs: row.t * 1000,
			// The main thread's TID is the PID, the smallest TID.
			pid: Math.min(...tids),
			process: procOk(counters(row.proc)),
			threads: Object.entries(row.tasks).map(([tid, task]) => ({tid: Number(tid), comm: task.comm, io: procOk(counters(task))})),
		};
	});
}

interface Replay {
	state: IoTrackerState;
	hintSteps: number;
	busySteps: number;
}

// Feed every reading; count the steps where the workers' window had enough reads, and where the hint fired.
function replay(readings: IoReading[], withWorkers?: (r: IoReading) => Set<number>): Replay {
	let state = createIoTracker();
	let hintSteps = 0;
	let busySteps = 0;
	for (const r of readings) {
		state = ingestIoReading(state, withWorkers ? {...r, workerTids: withWorkers(r)} : r);
		if (windowTotals(state.workers, state.config.windowMs).syscr >= MSIZE_HINT_MIN_READS) busySteps++;
		if (toIoView(state, undefined, r.atMs).hint) hintSteps++;
	}
	return {state, hintSteps, busySteps};
}

function bytesPerRead(totals: {rchar: number; syscr: number}): number {
	return totals.rchar / totals.syscr;
}

describe('replayed 9p copies', () => {
	it('msize 8192: workers read ~3,165 bytes per call and the hint fires', () => {
		const {state, hintSteps, busySteps} = replay(loadReadings('proc-io-samples-msize8192-named.jsonl'));
		const workers = bytesPerRead(state.workers.totals);
		expect(Math.abs(workers / 3165 - 1)).toBeLessThan(0.05);
		expect(state.workers.totals.syscr).toBeGreaterThan(95_000);
		// The process-wide figure is swamped by the main thread's 8-byte eventfd reads.
		expect(bytesPerRead(state.process.totals)).toBeGreaterThan(500);
		expect(bytesPerRead(state.process.totals)).toBeLessThan(800);
		expect(busySteps).toBeGreaterThan(100);
		expect(hintSteps).toBe(busySteps);
		expect(toIoView(state, undefined, state.lastAtMs!).hint).toMatch(/small msize/);
	});

	it('msize 524288: workers read ~11,466 bytes per call and the hint stays silent', () => {
		const {state, hintSteps, busySteps} = replay(loadReadings('proc-io-samples-msize524288-named.jsonl'));
		expect(Math.abs(bytesPerRead(state.workers.totals) / 11_466 - 1)).toBeLessThan(0.05);
		expect(bytesPerRead(state.process.totals)).toBeGreaterThan(900);
		expect(busySteps).toBeGreaterThan(50);
		expect(hintSteps).toBe(0);
	});

	it('the hint text names msize and the fix, and needs enough reads', () => {
		const hint = msizeHint({rchar: 3165 * 1000, syscr: 1000, wchar: 0, syscw: 0, readBytes: 0, writeBytes: 0, durationMs: 20_000, intervals: 40}, 20_000);
		expect(hint?.text).toMatch(/msize/);
		expect(hint?.text).toContain('msize=512000');
		expect(hint?.text).toContain('virtualisation.msize');
		expect(msizeHint({rchar: 100 * 199, syscr: 199, wchar: 0, syscw: 0, readBytes: 0, writeBytes: 0, durationMs: 20_000, intervals: 40}, 20_000)).toBeUndefined();
		expect(msizeHint({rchar: 4609 * 500, syscr: 500, wchar: 0, syscw: 0, readBytes: 0, writeBytes: 0, durationMs: 20_000, intervals: 40}, 20_000)).toBeUndefined();
	});

	it('default thread names: process figures come out; workers need TIDs from elsewhere', () => {
		const readings = loadReadings('proc-io-samples-msize524288-defaultnames.jsonl');
		const unnamed = replay(readings);
		expect(unnamed.state.namesAvailable).toBe(false);
		expect(unnamed.state.workers.identified).toBe(false);
		expect(unnamed.state.process.status).toBe('data');
		expect(bytesPerRead(unnamed.state.process.totals)).toBeGreaterThan(900);
		expect(bytesPerRead(unnamed.state.process.totals)).toBeLessThan(1400);
		expect(unnamed.state.process.totals.rchar).toBeGreaterThan(300e6);
		const view = toIoView(unnamed.state, undefined, unnamed.state.lastAtMs!);
		expect(view.workersNote).toMatch(/not identified/);
		expect(view.hint).toBeUndefined();

		// In the real app the sampler passes the TIDs whose stacks root in worker_thread; here the I/O fallback
		// guess picks the same three threads (non-main, reads averaging >= 64 bytes).
		const pid = readings[0]!.pid!;
		const guessed = replay(readings, r => guessWorkerTids(r, pid));
		expect(guessed.state.workers.memberTids).toEqual([30263, 30268, 30269]);
		expect(Math.abs(bytesPerRead(guessed.state.workers.totals) / 11_466 - 1)).toBeLessThan(0.05);
		expect(guessed.hintSteps).toBe(0);
	});

	it('produces a JSON-safe headless report', () => {
		const {state} = replay(loadReadings('proc-io-samples-msize8192-named.jsonl').slice(0, 60));
		const shares = parseShares(['qemu', '-virtfs', 'local,path=/srv/vm/share,mount_tag=hostshare,security_model=none']);
		const report = toIoReport(state, shares, state.lastAtMs!);
		expect(JSON.parse(JSON.stringify(report))).toEqual(report);
		expect(report.status).toBe('data');
		expect(report.workers.tids).toEqual([25694, 25699]);
		expect(report.workers.window.bytesPerRead).toBeLessThan(4608);
		expect(report.hint?.text).toMatch(/msize/);
		expect(report.shares?.shares[0]?.tag).toBe('hostshare');
		expect(report.threads.find(t => t.tid === 25694)).toMatchObject({comm: 'worker', worker: true, status: 'data'});
	});
});
