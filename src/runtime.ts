// A profiling session's data side, without any screen: a source of samples and I/O readings (live gdb + /proc,
// or a recording), the analysis they feed, and an optional recorder. The live screen and headless mode share it.

import {EventEmitter} from 'node:events';
import {closeSync, fsyncSync, openSync, readFileSync, writeSync} from 'node:fs';
import {ProfilerError} from './errors.js';
import type {Frame, Sample} from './profile/model.js';
import {createIoTracker, ingestIoReading, type IoReading, type IoTrackerState} from './procio/rate.js';
import {readShares, sampleIo} from './procio/read.js';
import type {QemuShares} from './procio/shares.js';
import {toIoReport, toIoView, type IoReport, type IoView} from './procio/view.js';
import {Sampler, type SamplerStatus} from './sampler.js';

/** What a recording starts with. */
export interface RecordingMeta {
	type: 'meta';
	version: 1;
	pid: number;
	command: string;
	backend: string;
	intervalMs: number;
	startedAtMs: number;
	shares?: QemuShares;
}

type Line =
	| RecordingMeta
	| {type: 'sample'; atMs: number; stopMs: number | null; threads: Array<{tid: number; name: string; frames: Array<[string, string | null, number, string | null]>}>; errors: Sample['errors']}
	| {type: 'io'; reading: Omit<IoReading, 'workerTids'> & {workerTids?: number[]}}
	| {type: 'status'; atMs: number; status: SamplerStatus};

/**
Streams a session as JSON lines, one write per line on a file descriptor opened for appending, so a crash or
a power cut loses at most the line being written.
*/
export class Recorder {
	private fd: number | undefined;

	constructor(readonly path: string, meta: RecordingMeta) {
		try {
			this.fd = openSync(path, 'a');
		} catch (error) {
			throw new ProfilerError(`cannot record to ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
		}
		this.write(meta);
	}

	sample(sample: Sample): void {
		this.write({
			type: 'sample',
			atMs: sample.atMs,
			stopMs: Number.isFinite(sample.stopMs) ? sample.stopMs : null,
			threads: sample.threads.map(t => ({tid: t.tid, name: t.name, frames: t.frames.map(f => [f.func, f.file ?? null, f.line ?? 0, f.lib ?? null] as [string, string | null, number, string | null])})),
			errors: sample.errors,
		});
	}

	io(reading: IoReading): void {
		const {workerTids, ...rest} = reading;
		this.write({type: 'io', reading: workerTids ? {...rest, workerTids: [...workerTids]} : rest});
	}

	status(status: SamplerStatus): void {
		this.write({type: 'status', atMs: Date.now(), status});
	}

	close(): void {
		if (this.fd === undefined) return;
		try {
			fsyncSync(this.fd);
			closeSync(this.fd);
		} catch {}
		this.fd = undefined;
	}

	private write(line: Line): void {
		if (this.fd === undefined) return;
		writeSync(this.fd, JSON.stringify(line) + '\n');
	}
}

/** One parsed line of a recording (a truncated last line is dropped). */
export type RecordedEvent =
	| {type: 'sample'; sample: Sample}
	| {type: 'io'; reading: IoReading}
	| {type: 'status'; atMs: number; status: SamplerStatus};

/** Read a recording: its meta line and its events in order. Throws a one-line ProfilerError when unusable. */
export function readRecording(path: string): {meta: RecordingMeta; events: RecordedEvent[]} {
	let text: string;
	try {
		text = readFileSync(path, 'utf8');
	} catch (error) {
		throw new ProfilerError(`cannot read recording ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
	}
	const lines = text.split('\n');
	let meta: RecordingMeta | undefined;
	const events: RecordedEvent[] = [];
	for (let i = 0; i < lines.length; i++) {
		const raw = lines[i]!;
		if (!raw.trim()) continue;
		let line: Line;
		try {
			line = JSON.parse(raw) as Line;
		} catch {
			// A crash mid-write leaves at most a truncated last line.
			if (i >= lines.length - 2) break;
			throw new ProfilerError(`${path} line ${i + 1} is not JSON: not a pmptop recording`);
		}
		if (line.type === 'meta') meta ??= line;
		else if (line.type === 'sample') events.push({type: 'sample', sample: decodeSample(line)});
		else if (line.type === 'io') events.push({type: 'io', reading: decodeReading(line.reading)});
		else if (line.type === 'status') events.push({type: 'status', atMs: line.atMs, status: line.status});
	}
	if (!meta) throw new ProfilerError(`${path} has no pmptop header line: not a pmptop recording`);
	return {meta, events};
}

function decodeSample(line: Extract<Line, {type: 'sample'}>): Sample {
	return {
		atMs: line.atMs,
		stopMs: line.stopMs ?? NaN,
		errors: line.errors ?? [],
		threads: line.threads.map(t => ({
			tid: t.tid,
			name: t.name,
			frames: t.frames.map(([func, file, lineNo, lib]): Frame => ({func, ...(file ? {file} : {}), ...(lineNo ? {line: lineNo} : {}), ...(lib ? {lib} : {})})),
		})),
	};
}

function decodeReading(r: Extract<Line, {type: 'io'}>['reading']): IoReading {
	const {workerTids, ...rest} = r;
	return workerTids ? {...rest, workerTids: new Set(workerTids)} : rest;
}

/**
A source of events: `sample` (Sample), `io` (IoReading), `status` (SamplerStatus). Live sources sample a
process; a replay plays a recording at a speed.
*/
export interface Source extends EventEmitter {
	start(): Promise<void>;
	stop(): Promise<void>;
	setIntervalMs(ms: number): void;
	readonly status: SamplerStatus;
}

/** Live: the gdb sampler plus a /proc I/O reader on its own 1 s clock (never stops the target). */
export class LiveSource extends EventEmitter implements Source {
	private ioTimer: NodeJS.Timeout | undefined;
	private ioBusy = false;

	constructor(readonly sampler: Sampler, readonly pid: number, readonly workerTids: () => Set<number>, readonly ioIntervalMs = 1000) {
		super();
		sampler.on('sample', s => this.emit('sample', s));
		sampler.on('status', s => {
			// Once the target is gone, one last reading says so, then /proc is left alone.
			if (s.state === 'target-exited' && this.ioTimer) {
				clearInterval(this.ioTimer);
				this.ioTimer = undefined;
				void this.readIo();
			}
			this.emit('status', s);
		});
		sampler.on('interval', ms => this.emit('interval', ms));
	}

	get status(): SamplerStatus {
		return this.sampler.status;
	}

	async start(): Promise<void> {
		await this.sampler.start();
		await this.readIo();
		this.ioTimer = setInterval(() => void this.readIo(), this.ioIntervalMs);
	}

	async stop(): Promise<void> {
		if (this.ioTimer) clearInterval(this.ioTimer);
		this.ioTimer = undefined;
		await this.sampler.stop();
	}

	setIntervalMs(ms: number): void {
		this.sampler.setIntervalMs(ms);
	}

	private async readIo(): Promise<void> {
		if (this.ioBusy) return;
		this.ioBusy = true;
		try {
			const tids = this.workerTids();
			this.emit('io', await sampleIo(this.pid, tids.size > 0 ? {workerTids: tids} : {}));
		} finally {
			this.ioBusy = false;
		}
	}
}

/** Replay: a recording's events at their recorded pace times `speed` (0: as fast as possible). */
export class ReplaySource extends EventEmitter implements Source {
	status: SamplerStatus = {state: 'attaching'};
	private stopped = false;
	private done: Promise<void> | undefined;
	private wake: (() => void) | undefined;

	constructor(readonly events: RecordedEvent[], readonly speed = 1) {
		super();
	}

	async start(): Promise<void> {
		this.status = {state: 'sampling', message: 'replaying a recording'};
		this.emit('status', this.status);
		this.done = this.play();
	}

	/** Resolves when every event has been played (or the replay was stopped). */
	finished(): Promise<void> {
		return this.done ?? Promise.resolve();
	}

	async stop(): Promise<void> {
		this.stopped = true;
		this.wake?.();
		await this.done;
	}

	setIntervalMs(): void {}

	private async play(): Promise<void> {
		let previous: number | undefined;
		for (const e of this.events) {
			if (this.stopped) return;
			const at = e.type === 'sample' ? e.sample.atMs : e.type === 'io' ? e.reading.atMs : e.atMs;
			if (previous !== undefined && this.speed > 0 && at > previous) await this.sleep((at - previous) / this.speed);
			previous = at;
			if (this.stopped) return;
			if (e.type === 'sample') this.emit('sample', e.sample);
			else if (e.type === 'io') this.emit('io', e.reading);
			else this.emit('status', e.status);
		}
		this.status = {state: 'stopped', message: 'end of the recording'};
		this.emit('status', this.status);
	}

	private sleep(ms: number): Promise<void> {
		return new Promise(resolve => {
			const timer = setTimeout(resolve, Math.min(ms, 5000));
			this.wake = () => {
				clearTimeout(timer);
				resolve();
			};
		});
	}
}

/** The I/O side of a session: tracker state, shares, and its views. */
export class IoSide {
	state: IoTrackerState = createIoTracker();
	shares: QemuShares | undefined;

	ingest(reading: IoReading): void {
		this.state = ingestIoReading(this.state, reading);
	}

	async loadShares(pid: number): Promise<void> {
		const r = await readShares(pid);
		this.shares = r.ok ? r.value : undefined;
	}

	view(nowMs: number): IoView {
		return toIoView(this.state, this.shares, nowMs);
	}

	report(nowMs: number): IoReport {
		return toIoReport(this.state, this.shares, nowMs);
	}

	/** Read throughput of one thread (bytes/s), when known. */
	readRateOf(tid: number): number | undefined {
		const t = this.state.threads.get(tid);
		return t?.status === 'data' ? t.rates?.readBytesPerSec : undefined;
	}

	/** True once any reading arrived. */
	get hasData(): boolean {
		return this.state.lastAtMs !== undefined;
	}
}

/** Wire a source to its consumers and an optional recorder (which sees every event first). */
export function connect(source: Source, onSample: (s: Sample) => void, onIo: (r: IoReading) => void, recorder?: Recorder): void {
	source.on('sample', (s: Sample) => {
		recorder?.sample(s);
		onSample(s);
	});
	source.on('io', (r: IoReading) => {
		recorder?.io(r);
		onIo(r);
	});
	source.on('status', (s: SamplerStatus) => recorder?.status(s));
}
