// Rates from cumulative /proc io counters: a pure tracker fed one reading at a time (htop DiskIOMeter.c style:
// a status per figure, counters that went down count as a restart, the first reading gives no rate).
// The I/O clock is independent of gdb sampling: reading /proc never stops the target.

import type {IoCounters, ProcResult} from './parse.js';

/**
Status of a figure. 'no-data': no rate yet (first reading, or a new thread). 'data': a rate from the latest
interval. 'stale': no new data for longer than `staleMs` (decided at view time, see `statusAt`).
'not-permitted': the io file cannot be read (never shown as zeros). 'gone': the process exited.
*/
export type IoStatus = 'no-data' | 'data' | 'stale' | 'not-permitted' | 'gone';

/** One thread in a reading: its comm (undefined when unreadable) and its io counters or why they are missing. */
export interface IoThreadReading {
	tid: number;
	comm?: string;
	io: ProcResult<IoCounters>;
}

/**
One reading of a process: `/proc/PID/io` plus every `/proc/PID/task/TID/{comm,io}`, taken at `atMs` (ms, any
clock that only goes forward, the same for every reading). `workerTids` optionally names threads known to be
9p/thread-pool workers by other means (their stacks), for when every thread carries the process name.
*/
export interface IoReading {
	atMs: number;
	pid?: number;
	process: ProcResult<IoCounters>;
	threads: IoThreadReading[];
	workerTids?: ReadonlySet<number>;
}

/** Counter differences over one interval (bytes for rchar/wchar/readBytes/writeBytes, counts for syscr/syscw). */
export type IoDelta = Omit<IoCounters, 'cancelledWriteBytes'>;

/**
Rates over one interval. Read/write throughput comes from rchar/wchar (what a 9p server moves, page cache
included); `storage*` from read_bytes/write_bytes. `bytesPerRead` = Δrchar/Δsyscr, undefined without reads.
*/
export interface IoRates {
	readBytesPerSec: number;
	writeBytesPerSec: number;
	readsPerSec: number;
	writesPerSec: number;
	bytesPerRead?: number;
	storageReadBytesPerSec: number;
	storageWriteBytesPerSec: number;
}

/** One interval between two readings, ending at `atMs`, `dtMs` long. `reset`: counters went down (delta 0). */
export interface IoInterval {
	atMs: number;
	dtMs: number;
	delta: IoDelta;
	reset: boolean;
}

/** Sums over a run of intervals: `durationMs` of time covered, `intervals` how many. */
export interface IoTotals extends IoDelta {
	durationMs: number;
	intervals: number;
}

/**
A series of rates (the process, or the worker group): status as of the latest reading, the latest rates,
the intervals of the last max(historyMs, windowMs) (oldest first) and totals since tracking began.
*/
export interface IoSeries {
	status: IoStatus;
	lastDataAtMs?: number;
	rates?: IoRates;
	intervals: readonly IoInterval[];
	totals: IoTotals;
	error?: string;
}

/** The process series plus its last counters (the baseline of the next delta). */
export interface ProcessIoState extends IoSeries {
	counters?: IoCounters;
	countersAtMs?: number;
}

/** One live thread: last counters, latest rates, and whether it counts as a worker (sticky once known). */
export interface ThreadIoState {
	tid: number;
	comm: string;
	status: IoStatus;
	counters?: IoCounters;
	countersAtMs?: number;
	rates?: IoRates;
	isWorker: boolean;
	firstSeenAtMs: number;
	error?: string;
}

/**
The worker group: threads whose comm is `worker` or whose TID was passed in `workerTids`. Its deltas are sums
over member threads present in both readings of an interval. `identified` is false until a member was seen or
a `workerTids` set was passed. Note: QEMU's thread pool also serves block I/O with `aio=threads`.
*/
export interface WorkerGroupState extends IoSeries {
	memberTids: readonly number[];
	identified: boolean;
}

/**
Tracker settings, all in ms. `historyMs`: sparkline span. `windowMs`: rolling window for bytes per read and the
msize hint. `staleMs`: no new data for this long turns 'data' into 'stale'.
*/
export interface IoTrackerConfig {
	historyMs: number;
	windowMs: number;
	staleMs: number;
}

/** Defaults: a minute of history, a 20 s window, stale after 5 s (readings come every 0.5-1 s). */
export const DEFAULT_IO_TRACKER_CONFIG: IoTrackerConfig = {historyMs: 60_000, windowMs: 20_000, staleMs: 5_000};

/**
The whole tracker state; treat it as immutable (every ingest returns a new one and leaves the old intact, so it
can be published to a UI as is). `threads` holds the threads of the latest reading only; `namesAvailable` is
false when every thread carries the same comm (QEMU without `debug-threads=on`).
*/
export interface IoTrackerState {
	config: IoTrackerConfig;
	pid?: number;
	readingCount: number;
	lastAtMs?: number;
	process: ProcessIoState;
	threads: ReadonlyMap<number, ThreadIoState>;
	workers: WorkerGroupState;
	namesAvailable: boolean;
}

const ZERO_DELTA: IoDelta = {rchar: 0, wchar: 0, syscr: 0, syscw: 0, readBytes: 0, writeBytes: 0};
const ZERO_TOTALS: IoTotals = {...ZERO_DELTA, durationMs: 0, intervals: 0};

/** The thread name QEMU gives its thread-pool threads with `debug-threads=on`. */
export const WORKER_COMM = 'worker';

/** A fresh tracker (no readings yet). */
export function createIoTracker(config: Partial<IoTrackerConfig> = {}): IoTrackerState {
	const emptySeries: IoSeries = {status: 'no-data', intervals: [], totals: ZERO_TOTALS};
	return {
		config: {...DEFAULT_IO_TRACKER_CONFIG, ...config},
		readingCount: 0,
		process: emptySeries,
		threads: new Map(),
		workers: {...emptySeries, memberTids: [], identified: false},
		namesAvailable: false,
	};
}

/**
The delta between two counter sets, or undefined when any cumulative counter went down (the thread or
process restarted, or a TID was reused): callers then count the interval as 0 and take `next` as baseline.
*/
export function counterDelta(prev: IoCounters, next: IoCounters): IoDelta | undefined {
	const delta: IoDelta = {
		rchar: next.rchar - prev.rchar,
		wchar: next.wchar - prev.wchar,
		syscr: next.syscr - prev.syscr,
		syscw: next.syscw - prev.syscw,
		readBytes: next.readBytes - prev.readBytes,
		writeBytes: next.writeBytes - prev.writeBytes,
	};
	for (const value of Object.values(delta)) if (value < 0) return undefined;
	return delta;
}

/** Rates of a delta over `dtMs` (> 0). */
export function ratesOf(delta: IoDelta, dtMs: number): IoRates {
	const perSec = 1000 / dtMs;
	return {
		readBytesPerSec: delta.rchar * perSec,
		writeBytesPerSec: delta.wchar * perSec,
		readsPerSec: delta.syscr * perSec,
		writesPerSec: delta.syscw * perSec,
		bytesPerRead: delta.syscr > 0 ? delta.rchar / delta.syscr : undefined,
		storageReadBytesPerSec: delta.readBytes * perSec,
		storageWriteBytesPerSec: delta.writeBytes * perSec,
	};
}

function addDelta(a: IoDelta, b: IoDelta): IoDelta {
	return {
		rchar: a.rchar + b.rchar,
		wchar: a.wchar + b.wchar,
		syscr: a.syscr + b.syscr,
		syscw: a.syscw + b.syscw,
		readBytes: a.readBytes + b.readBytes,
		writeBytes: a.writeBytes + b.writeBytes,
	};
}

function addInterval(totals: IoTotals, interval: IoInterval): IoTotals {
	return {...addDelta(totals, interval.delta), durationMs: totals.durationMs + interval.dtMs, intervals: totals.intervals + 1};
}

/** Append an interval to a series: status 'data', new rates, history trimmed to `keepMs`, totals grown. */
function pushInterval<S extends IoSeries>(series: S, interval: IoInterval, keepMs: number): S {
	const intervals = series.intervals.filter(i => i.atMs > interval.atMs - keepMs);
	intervals.push(interval);
	return {
		...series,
		status: 'data',
		lastDataAtMs: interval.atMs,
		rates: ratesOf(interval.delta, interval.dtMs),
		intervals,
		totals: addInterval(series.totals, interval),
		error: undefined,
	};
}

/**
Sums over the intervals of a series that end within the last `windowMs` before its latest data
(`windowMs` defaults to the series' whole retained span).
*/
export function windowTotals(series: IoSeries, windowMs = Infinity): IoTotals {
	let totals = ZERO_TOTALS;
	const endMs = series.lastDataAtMs ?? 0;
	for (const interval of series.intervals) {
		if (interval.atMs > endMs - windowMs) totals = addInterval(totals, interval);
	}
	return totals;
}

/** The status of a series as seen at `nowMs`: 'data' older than `staleMs` becomes 'stale'. */
export function statusAt(series: IoSeries, nowMs: number, staleMs: number): IoStatus {
	if (series.status === 'data' && series.lastDataAtMs !== undefined && nowMs - series.lastDataAtMs > staleMs) return 'stale';
	return series.status;
}

function ingestProcess(state: IoTrackerState, reading: IoReading): ProcessIoState {
	const prev = state.process;
	const keepMs = Math.max(state.config.historyMs, state.config.windowMs);
	const result = reading.process;
	if (!result.ok) {
		if (result.reason === 'not-permitted' || result.reason === 'gone') {
			return {...prev, status: result.reason, rates: undefined, error: result.message};
		}
		// A transient failure: keep the baseline and status; time turns it stale.
		return {...prev, error: result.message};
	}
	const counters = result.value;
	if (prev.counters === undefined || prev.countersAtMs === undefined) {
		return {...prev, status: 'no-data', counters, countersAtMs: reading.atMs, error: undefined};
	}
	const dtMs = reading.atMs - prev.countersAtMs;
	const delta = counterDelta(prev.counters, counters);
	const interval: IoInterval = {atMs: reading.atMs, dtMs, delta: delta ?? ZERO_DELTA, reset: delta === undefined};
	return {...pushInterval(prev, interval, keepMs), counters, countersAtMs: reading.atMs};
}

/**
Feed one reading; returns the new state (the input is not modified). Readings must come in time order: one not
after the previous (`atMs <= lastAtMs`) is ignored. Threads missing from the reading, or whose io says 'gone',
have vanished: they are dropped and contribute nothing to the interval (their bytes stay in the process total).
*/
export function ingestIoReading(state: IoTrackerState, reading: IoReading): IoTrackerState {
	if (state.lastAtMs !== undefined && reading.atMs <= state.lastAtMs) return state;
	const keepMs = Math.max(state.config.historyMs, state.config.windowMs);
	const process = ingestProcess(state, reading);

	const threads = new Map<number, ThreadIoState>();
	const memberTids: number[] = [];
	let groupDelta: IoDelta = ZERO_DELTA;
	const comms = new Set<string>();
	for (const t of reading.threads) {
		if (!t.io.ok && t.io.reason === 'gone') continue;
		const prev = state.threads.get(t.tid);
		const comm = t.comm ?? prev?.comm ?? '';
		if (t.comm !== undefined) comms.add(t.comm);
		const isWorker = comm === WORKER_COMM || (reading.workerTids?.has(t.tid) ?? false) || (prev?.isWorker ?? false);
		if (isWorker) memberTids.push(t.tid);
		const base = {tid: t.tid, comm, isWorker, firstSeenAtMs: prev?.firstSeenAtMs ?? reading.atMs};
		if (!t.io.ok) {
			threads.set(t.tid, t.io.reason === 'not-permitted'
				? {...base, status: 'not-permitted', error: t.io.message}
				: {...base, status: prev?.status ?? 'no-data', counters: prev?.counters, countersAtMs: prev?.countersAtMs, rates: prev?.rates, error: t.io.message});
			continue;
		}
		const counters = t.io.value;
		if (prev?.counters === undefined || prev.countersAtMs === undefined) {
			threads.set(t.tid, {...base, status: 'no-data', counters, countersAtMs: reading.atMs});
			continue;
		}
		const delta = counterDelta(prev.counters, counters) ?? ZERO_DELTA;
		const rates = ratesOf(delta, reading.atMs - prev.countersAtMs);
		threads.set(t.tid, {...base, status: 'data', counters, countersAtMs: reading.atMs, rates});
		if (isWorker) groupDelta = addDelta(groupDelta, delta);
	}

	let workers: WorkerGroupState = {
		...state.workers,
		memberTids,
		identified: state.workers.identified || memberTids.length > 0 || reading.workerTids !== undefined,
	};
	if (!reading.process.ok && (reading.process.reason === 'not-permitted' || reading.process.reason === 'gone')) {
		workers = {...workers, status: reading.process.reason, rates: undefined};
	} else if (state.lastAtMs === undefined) {
		workers = {...workers, status: 'no-data'};
	} else {
		const interval: IoInterval = {atMs: reading.atMs, dtMs: reading.atMs - state.lastAtMs, delta: groupDelta, reset: false};
		workers = pushInterval(workers, interval, keepMs);
	}

	return {
		...state,
		pid: reading.pid ?? state.pid,
		readingCount: state.readingCount + 1,
		lastAtMs: reading.atMs,
		process,
		threads,
		workers,
		namesAvailable: reading.threads.length === 0 ? state.namesAvailable : comms.size > 1,
	};
}

/** Per-thread read throughput (rchar bytes/s over the latest interval), for threads that have a rate. */
export function threadReadRates(state: IoTrackerState): ReadonlyMap<number, number> {
	const out = new Map<number, number>();
	for (const thread of state.threads.values()) {
		if (thread.status === 'data' && thread.rates) out.set(thread.tid, thread.rates.readBytesPerSec);
	}
	return out;
}

/**
A fallback guess at the worker TIDs when names and stacks are both missing: threads other than the main one
(tid = pid) that have done reads averaging at least 64 bytes. vCPU threads only write eventfds, call_rcu does
no I/O, the main loop's 8-byte eventfd reads are excluded by the size floor. Prefer stacks (`worker_thread`).
*/
export function guessWorkerTids(reading: IoReading, pid: number): Set<number> {
	const out = new Set<number>();
	for (const t of reading.threads) {
		if (t.tid === pid || !t.io.ok) continue;
		const {syscr, rchar} = t.io.value;
		if (syscr > 0 && rchar / syscr >= 64) out.add(t.tid);
	}
	return out;
}
