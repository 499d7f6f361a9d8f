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

/** Counts of one series over one window. */
class Counts {
	samples = 0;
	busySamples = 0;
	readonly own = new Map<number, number>();
	readonly total = new Map<number, number>();
	readonly busyOwn = new Map<number, number>();
	readonly busyTotal = new Map<number, number>();
	readonly stacks = new Map<number, number>();

	/** A copy that shares nothing mutable with this one. */
	clone(): Counts {
		const c = new Counts();
		c.samples = this.samples;
		c.busySamples = this.busySamples;
		for (const [k, v] of this.own) c.own.set(k, v);
		for (const [k, v] of this.total) c.total.set(k, v);
		for (const [k, v] of this.busyOwn) c.busyOwn.set(k, v);
		for (const [k, v] of this.busyTotal) c.busyTotal.set(k, v);
		for (const [k, v] of this.stacks) c.stacks.set(k, v);
		return c;
	}

	add(stack: StackInfo, delta: 1 | -1): void {
		this.samples += delta;
		bump(this.stacks, stack.id, delta);
		const leaf = stack.ownId;
		if (leaf !== undefined) bump(this.own, leaf, delta);
		for (const id of stack.unique) bump(this.total, id, delta);
		if (stack.cls !== 'idle') {
			this.busySamples += delta;
			if (leaf !== undefined) bump(this.busyOwn, leaf, delta);
			for (const id of stack.unique) bump(this.busyTotal, id, delta);
		}
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

interface Entry {
	atMs: number;
	stack: StackInfo;
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
	readonly heads: number[];
	readonly ring: Entry[] = [];

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
	private stackIds = new Map<string, StackInfo>();
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
		for (const s of this.series.values()) evictSeries(s, this.windowsMs, nowMs);
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
		const own = hide ? c.busyOwn : c.own;
		const total = hide ? c.busyTotal : c.total;
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
		if (s.windows.length > 0) s.ring.push({atMs: at, stack});
	}

	private internFrame(frame: Frame): number {
		const func = sanitize(frame.func);
		const key = sanitize(frameKey(frame));
		let id = this.frameIds.get(key);
		if (id === undefined) {
			id = this.frames.length;
			this.frames.push({key, func, where: sanitize(frameWhere(frame))});
			this.frameIds.set(key, id);
		}
		return id;
	}

	private internStack(raw: Frame[]): StackInfo {
		const frames = collapseUnknownRuns(raw);
		const ids = new Uint32Array(frames.length);
		for (let i = 0; i < frames.length; i++) ids[i] = this.internFrame(frames[i]!);
		const k = ids.join(',');
		let info = this.stackIds.get(k);
		if (!info) {
			const named = frames.findIndex(f => !isUnknown(f));
			const ownId = ids.length === 0 ? undefined : ids[named < 0 ? 0 : named];
			info = {id: this.stacks.length, frames: ids, ownId, unique: Uint32Array.from(new Set(ids)), cls: this.classify(frames)};
			this.stacks.push(info);
			this.stackIds.set(k, info);
		}
		return info;
	}
}

function evictSeries(s: Series, windowsMs: number[], nowMs: number): void {
	for (let w = 0; w < windowsMs.length; w++) {
		const cutoff = nowMs - windowsMs[w]!;
		let h = s.heads[w]!;
		while (h < s.ring.length && s.ring[h]!.atMs <= cutoff) {
			s.windows[w]!.add(s.ring[h]!.stack, -1);
			h++;
		}
		s.heads[w] = h;
	}
	// Compact the ring once the entries no window needs make up half of it.
	if (s.heads.length === 0) return;
	const minHead = Math.min(...s.heads);
	if (minHead > 1024 && minHead * 2 > s.ring.length) {
		s.ring.splice(0, minHead);
		for (let w = 0; w < s.heads.length; w++) s.heads[w] = s.heads[w]! - minHead;
	}
}

function tidOf(key: string): number {
	return Number(key.slice(4));
}

function cmp(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

export type {Counts, StackInfo};
