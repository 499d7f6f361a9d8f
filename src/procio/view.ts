// Tracker state -> plain data: the IoPanel's props (IoView) and the headless text/json report (IoReport). Pure.

import {msizeHint} from './hint.js';
import type {IoRates, IoSeries, IoStatus, IoTotals, IoTrackerState} from './rate.js';
import {statusAt, windowTotals} from './rate.js';
import type {QemuShares} from './shares.js';

/**
One row of the panel: the latest rates (undefined unless status is 'data' or 'stale'), bytes per read over the
rolling window (undefined without reads), and read bytes/s per interval over the last minute, oldest first.
*/
export interface IoRowView {
	status: IoStatus;
	readBytesPerSec?: number;
	writeBytesPerSec?: number;
	readsPerSec?: number;
	writesPerSec?: number;
	bytesPerRead?: number;
	windowReads: number;
	readHistory: number[];
}

/** A share as the panel lists it. */
export interface IoShareView {
	tag: string;
	path?: string;
	readonly: boolean;
}

/**
Everything the I/O panel shows, already decided: `status` is the process's, `statusText` its words
('waiting for data', 'not permitted', 'stale', 'process gone'; '' with data). `workers` is undefined when the
process has no 9p shares (then `sharesNote` says so). `workersNote` explains an empty or unidentified group.
`shares` is undefined when the command line was not read.
*/
export interface IoView {
	status: IoStatus;
	statusText: string;
	windowSec: number;
	historySec: number;
	process: IoRowView;
	workers?: IoRowView & {threadCount: number; identified: boolean};
	workersNote?: string;
	shares?: IoShareView[];
	sharesNote?: string;
	hint?: string;
	error?: string;
}

/** Words for a status, shown instead of figures ('' for 'data'). */
export function statusWords(status: IoStatus): string {
	switch (status) {
		case 'no-data': return 'waiting for data';
		case 'not-permitted': return 'not permitted';
		case 'stale': return 'stale';
		case 'gone': return 'process gone';
		case 'data': return '';
	}
}

function rowOf(series: IoSeries, state: IoTrackerState, nowMs: number): IoRowView {
	const {windowMs, historyMs, staleMs} = state.config;
	const status = statusAt(series, nowMs, staleMs);
	const shown = status === 'data' || status === 'stale';
	const rates: IoRates | undefined = shown ? series.rates : undefined;
	const window = windowTotals(series, windowMs);
	const endMs = series.lastDataAtMs ?? 0;
	return {
		status,
		readBytesPerSec: rates?.readBytesPerSec,
		writeBytesPerSec: rates?.writeBytesPerSec,
		readsPerSec: rates?.readsPerSec,
		writesPerSec: rates?.writesPerSec,
		bytesPerRead: shown && window.syscr > 0 ? window.rchar / window.syscr : undefined,
		windowReads: shown ? window.syscr : 0,
		readHistory: shown
			? series.intervals.filter(i => i.atMs > endMs - historyMs).map(i => (i.delta.rchar * 1000) / i.dtMs)
			: [],
	};
}

function sharesNoteOf(shares: QemuShares | undefined): string | undefined {
	if (shares === undefined) return undefined;
	if (shares.shares.length > 0) return undefined;
	if (shares.virtiofs) return 'no 9p shares on this process: it uses virtiofs, served by virtiofsd (a separate process)';
	return 'no 9p shares on this process';
}

function hasNoNinePShares(shares: QemuShares | undefined): boolean {
	return shares !== undefined && shares.shares.length === 0;
}

function workersNoteOf(state: IoTrackerState): string | undefined {
	if (!state.workers.identified) {
		return state.namesAvailable || state.threads.size === 0
			? 'no worker threads yet'
			: 'not identified: threads are unnamed (waiting for stacks)';
	}
	if (state.workers.memberTids.length === 0) return 'no worker threads now (idle workers exit after 10 s)';
	return undefined;
}

/**
The panel's view of the tracker at `nowMs` (the same clock as the readings' `atMs`). `shares` comes from
`parseShares` of the process's cmdline (undefined: not read). The hint uses the workers' rolling window.
*/
export function toIoView(state: IoTrackerState, shares: QemuShares | undefined, nowMs: number): IoView {
	const process = rowOf(state.process, state, nowMs);
	const noShares = hasNoNinePShares(shares);
	// Without 9p shares the worker row still shows when there are workers (a thread pool serves other I/O too).
	const hasWorkers = state.workers.identified && state.workers.memberTids.length > 0;
	const workersRow = noShares && !hasWorkers ? undefined : {...rowOf(state.workers, state, nowMs), threadCount: state.workers.memberTids.length, identified: state.workers.identified};
	const hint = noShares || workersRow?.status !== 'data' ? undefined : msizeHint(windowTotals(state.workers, state.config.windowMs), state.config.windowMs);
	return {
		status: process.status,
		statusText: statusWords(process.status),
		windowSec: state.config.windowMs / 1000,
		historySec: state.config.historyMs / 1000,
		process,
		workers: workersRow,
		workersNote: noShares && !hasWorkers ? undefined : workersNoteOf(state),
		shares: shares?.shares.map(s => ({tag: s.tag, path: s.path, readonly: s.readonly})),
		sharesNote: sharesNoteOf(shares),
		hint: hint?.text,
		error: state.process.error,
	};
}

/** One group in the headless report: latest rates, the rolling window's sums and the totals since start. */
export interface IoReportGroup {
	status: IoStatus;
	rates?: IoRates;
	window: IoTotals & {bytesPerRead?: number};
	total: IoTotals & {bytesPerRead?: number};
}

/**
Plain data for headless output (`--json`, text): the process and the worker group, the shares, the msize hint,
per-thread read rates. JSON-safe (no Maps, no NaN; absent figures are left out).
*/
export interface IoReport {
	pid?: number;
	atMs?: number;
	status: IoStatus;
	process: IoReportGroup;
	workers: IoReportGroup & {tids: number[]; identified: boolean};
	threads: Array<{tid: number; comm: string; status: IoStatus; worker: boolean; readBytesPerSec?: number; bytesPerRead?: number}>;
	shares?: QemuShares;
	hint?: {text: string; bytesPerRead: number; reads: number; windowMs: number};
	error?: string;
}

function withBytesPerRead(totals: IoTotals): IoTotals & {bytesPerRead?: number} {
	return totals.syscr > 0 ? {...totals, bytesPerRead: totals.rchar / totals.syscr} : {...totals};
}

function groupReport(series: IoSeries, state: IoTrackerState, nowMs: number): IoReportGroup {
	const status = statusAt(series, nowMs, state.config.staleMs);
	return {
		status,
		rates: status === 'data' || status === 'stale' ? series.rates : undefined,
		window: withBytesPerRead(windowTotals(series, state.config.windowMs)),
		total: withBytesPerRead(series.totals),
	};
}

/** The headless report of the tracker at `nowMs` (see IoReport). */
export function toIoReport(state: IoTrackerState, shares: QemuShares | undefined, nowMs: number): IoReport {
	const process = groupReport(state.process, state, nowMs);
	const workers = groupReport(state.workers, state, nowMs);
	const hint = hasNoNinePShares(shares) || workers.status !== 'data' ? undefined : msizeHint(workers.window, state.config.windowMs);
	const report: IoReport = {
		pid: state.pid,
		atMs: state.lastAtMs,
		status: process.status,
		process,
		workers: {...workers, tids: [...state.workers.memberTids], identified: state.workers.identified},
		threads: [...state.threads.values()].map(t => ({
			tid: t.tid,
			comm: t.comm,
			status: t.status,
			worker: t.isWorker,
			...(t.status === 'data' && t.rates ? {readBytesPerSec: t.rates.readBytesPerSec} : {}),
			...(t.status === 'data' && t.rates?.bytesPerRead !== undefined ? {bytesPerRead: t.rates.bytesPerRead} : {}),
		})),
		shares,
		hint,
		error: state.process.error,
	};
	return JSON.parse(JSON.stringify(report)) as IoReport;
}
