// Aggregation of samples into per-thread hot lists. Pure and UI-free: ingest samples, ask for top frames.
//
// Counting rules (py-spy's, in our words):
// - own: the frame was the leaf of the stack (or, for an unnamed `??` leaf, the nearest named frame above it); total: the frame was anywhere in the stack, counted once per stack
//   even when it appears several times (recursion).
// - shares are per thread-sample: a thread's own% of a frame is its own count / the thread's samples in the window.
//   The all-threads view divides by all thread-samples (never by samples, see py-spy #737).
// - windows slide: a ring of the last entries; evicting one subtracts its counts. 'all' is the whole run.

import type {StackState} from './idle.js';
import {collapseUnknownRuns, frameKey, frameWhere, isUnknown, sanitize, type Frame, type Sample} from './model.js';

/** What a window is: the last N milliseconds, or the whole run. */
export type WindowSpec = number | 'all';

export interface ProfileOptions {
	/** Sliding windows kept, in ms. @default [10000, 60000] */
	windowsMs?: number[];
	/** Classifies a stack (leaf first); only 'idle' samples are left out by hideIdle. @default everything 'running' */
	classify?: (frames: Frame[]) => StackState;
	/** Series a thread-stack also counts into besides `tid:N` and `all` (e.g. `role:worker`). */
	groupsOf?: (tid: number, name: string, frames: Frame[]) => string[];
}

/** Per-frame counts of a window, derived from its stack counts. */
interface FrameCounts {
	own: Map<number, number>;
	total: Map<number, number>;
	busyOwn: Map<number, number>;
	busyTotal: Map<number, number>;
}

/**
Counts of one series over one window: how many times each distinct stack was seen. A sample costs one map update
per window here, whatever its depth; the per-frame own and total counts are derived from the stacks when a hot
list is asked for (a redraw, a snapshot), and kept until the next change.
*/
class Counts {
	samples = 0;
	busySamples = 0;
	readonly stacks = new Map<number, number>();
	// Derived from `stacks` when first asked for; dropped at every change.
	private derived: FrameCounts | undefined;

	/** A copy that shares nothing mutable with this one. */
	clone(): Counts {
		const c = new Counts();
		c.samples = this.samples;
		c.busySamples = this.busySamples;
		for (const [k, v] of this.stacks) c.stacks.set(k, v);
		return c;
	}

	add(stack: StackInfo, delta: 1 | -1): void {
		this.samples += delta;
		if (stack.cls !== 'idle') this.busySamples += delta;
		bump(this.stacks, stack.id, delta);
		this.derived = undefined;
	}

	/** Own and total counts per frame id (all samples, and busy ones only), from the stack counts. */
	frameCounts(table: readonly StackInfo[]): FrameCounts {
		if (this.derived) return this.derived;
		const counts: FrameCounts = {own: new Map(), total: new Map(), busyOwn: new Map(), busyTotal: new Map()};
		for (const [id, n] of this.stacks) {
			const stack = table[id]!;
			const busy = stack.cls !== 'idle';
			if (stack.ownId !== undefined) {
				bump(counts.own, stack.ownId, n);
				if (busy) bump(counts.busyOwn, stack.ownId, n);
			}
			for (const frame of stack.unique) {
				bump(counts.total, frame, n);
				if (busy) bump(counts.busyTotal, frame, n);
			}
		}
		this.derived = counts;
		return counts;
	}
}

function bump(map: Map<number, number>, key: number, delta: number): void {
	const v = (map.get(key) ?? 0) + delta;
	if (v <= 0) map.delete(key);
	else map.set(key, v);
}

interface StackInfo {
	id: number;
	/** Frame ids, leaf first, unnamed runs collapsed. */
	frames: Uint32Array;
	/**
	The frame that gets the stack's own count: the leaf, or when the leaf is unnamed (`??`), the nearest named
	frame above it, so that a stripped binary's hot list stays readable (undefined for an empty stack).
	*/
	ownId: number | undefined;
	/** Distinct frame ids of the stack (for total counts). */
	unique: Uint32Array;
	cls: StackState;
}

/**
The entries a series' windows still need, oldest first: (time, stack id) pairs in two typed arrays used as a
circular buffer. No object per entry: over hours of sampling nothing here becomes garbage for the GC to promote.
Positions are absolute (they only grow); `start` is the oldest position kept.
*/
export class Ring {
	private at = new Float64Array(256);
	private ids = new Uint32Array(256);
	start = 0;
	end = 0;

	push(atMs: number, id: number): void {
		if (this.end - this.start === this.at.length) this.grow();
		const i = this.end & (this.at.length - 1);
		this.at[i] = atMs;
		this.ids[i] = id;
		this.end++;
	}

	atMs(position: number): number {
		return this.at[position & (this.at.length - 1)]!;
	}

	id(position: number): number {
		return this.ids[position & (this.ids.length - 1)]!;
	}

	get length(): number {
		return this.end - this.start;
	}

	private grow(): void {
		const at = new Float64Array(this.at.length * 2);
		const ids = new Uint32Array(this.ids.length * 2);
		for (let p = this.start; p < this.end; p++) {
			at[p & (at.length - 1)] = this.atMs(p);
			ids[p & (ids.length - 1)] = this.id(p);
		}
		this.at = at;
		this.ids = ids;
	}
}

/** One series: a thread, a group of threads, or all threads. */
export class Series {
	name: string;
	firstAtMs: number;
	lastAtMs: number;
	/** When a thread was last missing from a sample (it exited); undefined while alive. */
	goneAtMs: number | undefined;
	/** The last stack seen, for the thread list's "current top frame". */
	lastStack: StackInfo | undefined;
	cumulative = new Counts();
	windows: Counts[];
	/** Per window, the ring position of its oldest entry. */
	readonly heads: number[];
	readonly ring = new Ring();

	constructor(readonly key: string, name: string, atMs: number, windowCount: number) {
		this.name = name;
		this.firstAtMs = atMs;
		this.lastAtMs = atMs;
		this.windows = Array.from({length: windowCount}, () => new Counts());
		this.heads = Array.from({length: windowCount}, () => 0);
	}
}

/** One row of a hot list. Shares are fractions (0..1) of the series' samples in the window. */
export interface HotRow {
	frameId: number;
	key: string;
	func: string;
	where: string;
	own: number;
	total: number;
	ownShare: number;
	totalShare: number;
}

export type SortKey = 'own%' | 'total%' | 'own' | 'total';

export interface TopQuery {
	window: WindowSpec;
	sortBy?: SortKey;
	n?: number;
	hideIdle?: boolean;
	/** Case-insensitive substring of the frame key. */
	filter?: string;
}

/** The aggregate of a whole session. */
export class Profile {
	readonly windowsMs: number[];
	readonly series = new Map<string, Series>();
	samples = 0;
	threadSamples = 0;
	firstAtMs: number | undefined;
	lastAtMs: number | undefined;
	private frameIds = new Map<string, number>();
	/** Frame table: index = frame id. */
	frames: Array<{key: string; func: string; where: string}> = [];
	private stackIds = new Map<number, StackInfo[]>();
	// func -> lib -> file -> frame id: the fast path of internFrame.
	private rawFrameIds = new Map<string, Map<string, Map<string, number>>>();
	private scratch = new Uint32Array(256);
	stacks: StackInfo[] = [];
	private readonly classify: (frames: Frame[]) => StackState;
	private readonly groupsOf: ProfileOptions['groupsOf'];

	constructor(options: ProfileOptions = {}) {
		this.windowsMs = options.windowsMs ?? [10_000, 60_000];
		this.classify = options.classify ?? (() => 'running');
		this.groupsOf = options.groupsOf;
	}

	/** Add one sample: every thread's stack counts into its own series, its groups and `all`. */
	ingest(sample: Sample): void {
		const at = sample.atMs;
		this.samples++;
		this.firstAtMs ??= at;
		this.lastAtMs = at;
		const seen = new Set<string>();
		for (const t of sample.threads) {
			const stack = this.internStack(t.frames);
			const name = sanitize(t.name);
			const keys = [`tid:${t.tid}`, 'all', ...(this.groupsOf?.(t.tid, name, t.frames) ?? [])];
			for (const key of keys) {
				const s = this.seriesFor(key, key === 'all' ? 'all threads' : name, at);
				if (key.startsWith('tid:')) {
					s.name = name;
					seen.add(key);
					s.goneAtMs = undefined;
				}
				this.add(s, stack, at);
			}
			this.threadSamples++;
		}
		for (const s of this.series.values()) {
			if (s.key.startsWith('tid:') && !seen.has(s.key) && s.goneAtMs === undefined) s.goneAtMs = at;
		}
		this.evict(at);
	}

	/**
	A frozen copy for a paused view: counts are copied, the frame and stack tables shared (they only grow).
	The copy is not meant to ingest samples.
	*/
	clone(): Profile {
		const p = new Profile({windowsMs: this.windowsMs, classify: this.classify, groupsOf: this.groupsOf});
		p.frames = this.frames;
		p.stacks = this.stacks;
		p.frameIds = this.frameIds;
		p.stackIds = this.stackIds;
		p.rawFrameIds = this.rawFrameIds;
		p.samples = this.samples;
		p.threadSamples = this.threadSamples;
		p.firstAtMs = this.firstAtMs;
		p.lastAtMs = this.lastAtMs;
		for (const [key, s] of this.series) {
			const c = new Series(key, s.name, s.firstAtMs, 0);
			c.lastAtMs = s.lastAtMs;
			c.goneAtMs = s.goneAtMs;
			c.lastStack = s.lastStack;
			c.cumulative = s.cumulative.clone();
			c.windows = s.windows.map(w => w.clone());
			p.series.set(key, c);
		}
		return p;
	}

	/** Drop ring entries that left every window, as of `nowMs`. */
	evict(nowMs: number): void {
		for (const s of this.series.values()) evictSeries(s, this.windowsMs, nowMs, this.stacks);
	}

	/** Forget everything (key `r`). Frame and stack tables are kept: ids stay valid. */
	reset(): void {
		this.series.clear();
		this.samples = 0;
		this.threadSamples = 0;
		this.firstAtMs = undefined;
		this.lastAtMs = undefined;
	}

	/** The counts of a series for a window, or undefined. */
	counts(key: string, window: WindowSpec): Counts | undefined {
		const s = this.series.get(key);
		if (!s) return undefined;
		if (window === 'all') return s.cumulative;
		const i = this.windowsMs.indexOf(window);
		if (i < 0) throw new RangeError(`window ${window} ms is not kept (kept: ${this.windowsMs.join(', ')})`);
		return s.windows[i];
	}

	/** The top N frames of a series in a window, sorted (ties broken by the other count, then by name). */
	top(key: string, query: TopQuery): HotRow[] {
		const c = this.counts(key, query.window);
		if (!c) return [];
		const hide = query.hideIdle ?? false;
		const denominator = hide ? c.busySamples : c.samples;
		const frames = c.frameCounts(this.stacks);
		const own = hide ? frames.busyOwn : frames.own;
		const total = hide ? frames.busyTotal : frames.total;
		const filter = query.filter?.toLowerCase();
		const rows: HotRow[] = [];
		for (const [frameId, t] of total) {
			const f = this.frames[frameId]!;
			if (filter && !f.key.toLowerCase().includes(filter)) continue;
			const o = own.get(frameId) ?? 0;
			rows.push({
				frameId,
				key: f.key,
				func: f.func,
				where: f.where,
				own: o,
				total: t,
				ownShare: denominator ? o / denominator : 0,
				totalShare: denominator ? t / denominator : 0,
			});
		}
		const sortBy = query.sortBy ?? 'own%';
		const byOwn = sortBy === 'own%' || sortBy === 'own';
		rows.sort((a, b) => byOwn ? b.own - a.own || b.total - a.total || cmp(a.key, b.key) : b.total - a.total || b.own - a.own || cmp(a.key, b.key));
		return query.n === undefined ? rows : rows.slice(0, query.n);
	}

	/** Frame ids of a stack, leaf first. */
	stackFrames(stackId: number): Uint32Array {
		return this.stacks[stackId]!.frames;
	}

	/** The series of each thread, in TID order. */
	threads(): Series[] {
		return [...this.series.values()].filter(s => s.key.startsWith('tid:')).sort((a, b) => tidOf(a.key) - tidOf(b.key));
	}

	private seriesFor(key: string, name: string, at: number): Series {
		let s = this.series.get(key);
		if (!s) {
			s = new Series(key, name, at, this.windowsMs.length);
			this.series.set(key, s);
		}
		return s;
	}

	private add(s: Series, stack: StackInfo, at: number): void {
		s.lastAtMs = at;
		s.lastStack = stack;
		s.cumulative.add(stack, 1);
		for (const w of s.windows) w.add(stack, 1);
		if (s.windows.length > 0) s.ring.push(at, stack.id);
	}

	private internFrame(frame: Frame): number {
		// Fast path without building a string: the frame's own strings, as the parser made them, look up its id.
		const lib = frame.lib ?? '';
		const file = frame.file ?? '';
		let byLib = this.rawFrameIds.get(frame.func);
		let byFile = byLib?.get(lib);
		const known = byFile?.get(file);
		if (known !== undefined) return known;
		const func = sanitize(frame.func);
		const key = sanitize(frameKey(frame));
		let id = this.frameIds.get(key);
		if (id === undefined) {
			id = this.frames.length;
			this.frames.push({key, func, where: sanitize(frameWhere(frame))});
			this.frameIds.set(key, id);
		}
		if (!byLib) this.rawFrameIds.set(frame.func, (byLib = new Map()));
		if (!byFile) byLib.set(lib, (byFile = new Map()));
		byFile.set(file, id);
		return id;
	}

	private internStack(raw: Frame[]): StackInfo {
		const frames = collapseUnknownRuns(raw);
		// The frame ids go to a scratch buffer and are looked up by hash; a new stack gets its own copy.
		if (this.scratch.length < frames.length) this.scratch = new Uint32Array(frames.length * 2);
		const scratch = this.scratch;
		let hash = 0x811c9dc5 ^ frames.length;
		for (let i = 0; i < frames.length; i++) {
			const id = this.internFrame(frames[i]!);
			scratch[i] = id;
			hash = Math.imul(hash ^ id, 0x01000193);
		}
		const candidates = this.stackIds.get(hash);
		if (candidates) {
			for (const info of candidates) {
				if (sameIds(info.frames, scratch, frames.length)) return info;
			}
		}
		const ids = scratch.slice(0, frames.length);
		const named = frames.findIndex(f => !isUnknown(f));
		const ownId = ids.length === 0 ? undefined : ids[named < 0 ? 0 : named];
		const info: StackInfo = {id: this.stacks.length, frames: ids, ownId, unique: Uint32Array.from(new Set(ids)), cls: this.classify(frames)};
		this.stacks.push(info);
		if (candidates) candidates.push(info);
		else this.stackIds.set(hash, [info]);
		return info;
	}
}

function sameIds(a: Uint32Array, b: Uint32Array, length: number): boolean {
	if (a.length !== length) return false;
	for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
	return true;
}

function evictSeries(s: Series, windowsMs: number[], nowMs: number, stacks: StackInfo[]): void {
	let oldest = s.ring.end;
	for (let w = 0; w < windowsMs.length; w++) {
		const cutoff = nowMs - windowsMs[w]!;
		let h = s.heads[w]!;
		while (h < s.ring.end && s.ring.atMs(h) <= cutoff) {
			s.windows[w]!.add(stacks[s.ring.id(h)]!, -1);
			h++;
		}
		s.heads[w] = h;
		if (h < oldest) oldest = h;
	}
	// Entries no window needs any more are dropped.
	if (windowsMs.length > 0) s.ring.start = oldest;
}

function tidOf(key: string): number {
	return Number(key.slice(4));
}

function cmp(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

export type {Counts, StackInfo};
