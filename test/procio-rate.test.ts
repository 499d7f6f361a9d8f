import {describe, expect, it} from 'vitest';
import type {IoCounters} from '../src/procio/parse.js';
import {procFail, procOk} from '../src/procio/parse.js';
import type {IoReading, IoThreadReading, IoTrackerState} from '../src/procio/rate.js';
import {counterDelta, createIoTracker, ingestIoReading, statusAt, threadReadRates, windowTotals} from '../src/procio/rate.js';
import {toIoReport, toIoView} from '../src/procio/view.js';

function io(rchar: number, syscr: number, wchar = 0, syscw = 0): IoCounters {
	return {rchar, wchar, syscr, syscw, readBytes: 0, writeBytes: 0, cancelledWriteBytes: 0};
}

function thread(tid: number, comm: string, counters: IoCounters): IoThreadReading {
	return {tid, comm, io: procOk(counters)};
}

function reading(atMs: number, process: IoCounters, threads: IoThreadReading[], workerTids?: Set<number>): IoReading {
	return {atMs, pid: 100, process: procOk(process), threads, ...(workerTids ? {workerTids} : {})};
}

function feed(readings: IoReading[], state: IoTrackerState = createIoTracker()): IoTrackerState {
	return readings.reduce(ingestIoReading, state);
}

describe('IoTracker rates', () => {
	it('gives no rate on the first reading', () => {
		const state = feed([reading(1000, io(5000, 10), [thread(100, 'qemu', io(5000, 10))])]);
		expect(state.process.status).toBe('no-data');
		expect(state.process.rates).toBeUndefined();
		expect(state.workers.status).toBe('no-data');
		expect(state.threads.get(100)?.status).toBe('no-data');
		expect(threadReadRates(state).size).toBe(0);
		const view = toIoView(state, undefined, 1000);
		expect(view.statusText).toBe('waiting for data');
		expect(view.process.readBytesPerSec).toBeUndefined();
	});

	it('computes process and thread rates from deltas over the interval', () => {
		const state = feed([
			reading(1000, io(1000, 10, 500, 5), [thread(100, 'qemu', io(1000, 10, 500, 5))]),
			reading(1500, io(6000, 20, 1500, 15), [thread(100, 'qemu', io(6000, 20, 1500, 15))]),
		]);
		expect(state.process.status).toBe('data');
		expect(state.process.rates).toMatchObject({readBytesPerSec: 10_000, writeBytesPerSec: 2000, readsPerSec: 20, writesPerSec: 20, bytesPerRead: 500});
		expect(threadReadRates(state)).toEqual(new Map([[100, 10_000]]));
	});

	it('sums the worker group over threads present in both readings as TIDs churn', () => {
		const state = feed([
			reading(0, io(0, 0), [thread(1, 'qemu', io(0, 0)), thread(10, 'worker', io(100, 1))]),
			// 10 read 4096 x 2; 11 appears (its first reading gives no delta).
			reading(1000, io(0, 0), [thread(1, 'qemu', io(0, 0)), thread(10, 'worker', io(8292, 3)), thread(11, 'worker', io(50_000, 5))]),
			// 10 vanished; 11 read 8192 x 1; 12 appears.
			reading(2000, io(0, 0), [thread(1, 'qemu', io(0, 0)), thread(11, 'worker', io(58_192, 6)), thread(12, 'worker', io(999, 9))]),
		]);
		expect(state.workers.memberTids).toEqual([11, 12]);
		expect([...state.threads.keys()]).toEqual([1, 11, 12]);
		expect(state.workers.intervals.map(i => [i.delta.rchar, i.delta.syscr])).toEqual([[8192, 2], [8192, 1]]);
		expect(state.workers.rates?.readBytesPerSec).toBe(8192);
		expect(state.workers.totals).toMatchObject({rchar: 16_384, syscr: 3, durationMs: 2000, intervals: 2});
		expect(state.threads.get(12)?.status).toBe('no-data');
	});

	it('treats counters that went down as a restart: rate 0, new baseline', () => {
		const state1 = feed([
			reading(0, io(1_000_000, 100), [thread(5, 'worker', io(1_000_000, 100))]),
			reading(1000, io(10, 1), [thread(5, 'worker', io(10, 1))]),
		]);
		expect(state1.process.rates).toMatchObject({readBytesPerSec: 0, readsPerSec: 0});
		expect(state1.process.intervals.at(-1)?.reset).toBe(true);
		expect(state1.threads.get(5)?.rates?.readBytesPerSec).toBe(0);
		expect(state1.workers.rates?.readBytesPerSec).toBe(0);
		const state2 = ingestIoReading(state1, reading(2000, io(4106, 2), [thread(5, 'worker', io(4106, 2))]));
		expect(state2.process.rates?.readBytesPerSec).toBe(4096);
		expect(state2.workers.rates?.bytesPerRead).toBe(4096);
		expect(counterDelta(io(5, 5), io(6, 4))).toBeUndefined();
	});

	it('drops a thread that vanished or reads as gone; the process keeps its bytes', () => {
		const gone: IoThreadReading = {tid: 7, comm: 'worker', io: procFail('gone', 'ENOENT')};
		const state = feed([
			reading(0, io(0, 0), [thread(1, 'qemu', io(0, 0)), thread(7, 'worker', io(0, 0))]),
			reading(1000, io(9000, 3), [thread(1, 'qemu', io(0, 0)), gone]),
		]);
		expect(state.threads.has(7)).toBe(false);
		expect(state.workers.memberTids).toEqual([]);
		expect(state.workers.rates?.readBytesPerSec).toBe(0);
		expect(state.process.rates?.readBytesPerSec).toBe(9000);
	});

	it('turns data stale when no new reading arrives', () => {
		const state = feed([reading(0, io(0, 0), []), reading(1000, io(100, 1), [])]);
		expect(statusAt(state.process, 1000 + state.config.staleMs, state.config.staleMs)).toBe('data');
		expect(statusAt(state.process, 1001 + state.config.staleMs, state.config.staleMs)).toBe('stale');
		const view = toIoView(state, undefined, 60_000);
		expect(view.statusText).toBe('stale');
		// Stale figures stay visible (dimmed by the panel), unlike not-permitted ones.
		expect(view.process.readBytesPerSec).toBe(100);
		// A transient failure keeps the baseline; the next success measures across it.
		const failed = ingestIoReading(state, {atMs: 2000, process: procFail('error', 'EIO'), threads: []});
		expect(failed.process.status).toBe('data');
		expect(failed.process.error).toBe('EIO');
		const back = ingestIoReading(failed, reading(3000, io(2100, 2), []));
		expect(back.process.rates?.readBytesPerSec).toBe(1000);
		expect(back.process.error).toBeUndefined();
	});

	it('reports not-permitted, never zeros', () => {
		const denied = (atMs: number): IoReading => ({
			atMs,
			process: procFail('not-permitted', 'EACCES'),
			threads: [{tid: 1, comm: 'qemu', io: procFail('not-permitted', 'EACCES')}],
		});
		const state = feed([denied(0), denied(1000), denied(2000)]);
		expect(state.process.status).toBe('not-permitted');
		expect(state.workers.status).toBe('not-permitted');
		expect(state.threads.get(1)?.status).toBe('not-permitted');
		const view = toIoView(state, undefined, 2000);
		expect(view.statusText).toBe('not permitted');
		expect(view.process).toMatchObject({status: 'not-permitted', readBytesPerSec: undefined, bytesPerRead: undefined, readHistory: []});
		expect(toIoReport(state, undefined, 2000).process.rates).toBeUndefined();
	});

	it('says when the process is gone', () => {
		const state = feed([reading(0, io(0, 0), []), {atMs: 1000, process: procFail('gone', 'ENOENT'), threads: []}]);
		expect(toIoView(state, undefined, 1000).statusText).toBe('process gone');
	});

	it('takes worker TIDs from the caller when every thread has the process name, and keeps them', () => {
		const same = (tid: number, c: IoCounters): IoThreadReading => thread(tid, 'qemu-system-x86', c);
		const state = feed([
			reading(0, io(0, 0), [same(1, io(0, 0)), same(2, io(0, 0)), same(3, io(0, 0))]),
			reading(1000, io(0, 0), [same(1, io(80, 10)), same(2, io(0, 0)), same(3, io(4096, 1))]),
		]);
		expect(state.namesAvailable).toBe(false);
		expect(state.workers.identified).toBe(false);
		expect(toIoView(state, undefined, 1000).workersNote).toMatch(/unnamed/);
		const withTids = ingestIoReading(state, reading(2000, io(0, 0), [same(1, io(80, 10)), same(2, io(0, 0)), same(3, io(12_288, 3))], new Set([3])));
		expect(withTids.workers.identified).toBe(true);
		expect(withTids.workers.rates?.bytesPerRead).toBe(4096);
		// Later readings without the set still count TID 3 as a worker.
		const later = ingestIoReading(withTids, reading(3000, io(0, 0), [same(1, io(80, 10)), same(3, io(16_384, 4))]));
		expect(later.workers.memberTids).toEqual([3]);
		expect(later.workers.rates?.readBytesPerSec).toBe(4096);
	});

	it('ignores readings out of time order and leaves old states untouched', () => {
		const a = feed([reading(1000, io(0, 0), [])]);
		const b = ingestIoReading(a, reading(2000, io(1000, 1), []));
		expect(ingestIoReading(b, reading(1500, io(5, 5), []))).toBe(b);
		expect(a.process.status).toBe('no-data');
		expect(a.readingCount).toBe(1);
		expect(b.readingCount).toBe(2);
	});

	it('keeps a minute of history and sums the rolling window', () => {
		let state = createIoTracker({historyMs: 60_000, windowMs: 10_000});
		for (let i = 0; i <= 200; i++) {
			state = ingestIoReading(state, reading(i * 500, io(i * 4096, i), [thread(9, 'worker', io(i * 4096, i))]));
		}
		expect(state.process.intervals.length).toBe(120);
		expect(windowTotals(state.workers, 10_000)).toMatchObject({rchar: 20 * 4096, syscr: 20, durationMs: 10_000});
		const view = toIoView(state, undefined, 100_000);
		expect(view.process.readHistory.length).toBe(120);
		expect(view.workers?.bytesPerRead).toBe(4096);
		expect(view.workers?.windowReads).toBe(20);
	});
});
