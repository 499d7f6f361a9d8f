// The app state: samples in, intents in, an immutable View out at a bounded rate.
// Components read the View through useSyncExternalStore; effects (quit, snapshot, interval) are callbacks the
// composition root (cli.tsx) provides. The store itself does no I/O.

import {Profile, type HotRow, type SortKey, type WindowSpec} from '../profile/aggregate.js';
import {Analysis, GROUP_ROLES, groupName} from '../profile/analysis.js';
import {diffView, takeMark, type ChangedRow, type Mark} from '../profile/diff.js';
import {sanitize, type Sample} from '../profile/model.js';
import type {SamplerStatus} from '../sampler.js';
import type {Intent} from './intents.js';
import type {InputMode} from './keymap.js';
import {sampleRate, StopStats} from './stats.js';

export const WINDOWS: readonly WindowSpec[] = [10_000, 60_000, 'all'];

/** Static facts about the session, shown in the header. */
export interface SessionInfo {
	pid: number;
	command: string;
	backend: string;
	/** How frames are read (python / mi / batch). */
	reader?: string;
	/** Notes shown under the header (e.g. "not a QEMU process"). */
	notes?: string[];
	replay?: boolean;
}

export interface HeaderView {
	pid: number;
	command: string;
	backend: string;
	state: SamplerStatus['state'];
	stateMessage?: string;
	samples: number;
	rateHz: number;
	intervalMs: number;
	lastStopMs: number;
	medianStopMs: number;
	p95StopMs: number;
	dutyPct: number;
	errors: number;
	lastError?: string;
	paused: boolean;
	windowLabel: string;
	hideIdle: boolean;
	notes: string[];
}

export interface ThreadRowView {
	key: string;
	tid: number;
	name: string;
	samples: number;
	/** Share of the thread's window samples that were not idle (0..1). */
	busyShare: number;
	top: string;
	gone: boolean;
	role?: string;
	/** Read throughput (bytes/s) from /proc, when known. */
	readBytesPerSec?: number;
}

/** A hot-list row, with its change since the mark in percentage points when a mark is set. */
export type HotRowView = HotRow & Partial<Pick<ChangedRow, 'deltaOwnPp' | 'deltaTotalPp'>>;

export interface HotView {
	title: string;
	seriesKey: string;
	rows: HotRowView[];
	/** Set while a mark is active: rows carry deltas and are sorted by the size of the change. */
	markedAtMs?: number;
	sortBy: SortKey;
	samples: number;
	cursor: number;
	filter: string;
}

/** Everything the screen shows, immutable. */
export interface View {
	columns: number;
	rows: number;
	header: HeaderView;
	threads: ThreadRowView[];
	selected: number;
	focus: 'threads' | 'hot';
	zoomed: boolean;
	hot: HotView;
	status: {text: string; level: 'info' | 'warn' | 'error'} | undefined;
	mode: InputMode;
	filterDraft: string;
	/** Extra panels fed from outside (I/O), opaque to the store. */
	extra: Record<string, unknown>;
}

export interface StoreEffects {
	quit?: () => void;
	snapshot?: () => void;
	setIntervalMs?: (ms: number) => void;
}

export interface StoreOptions {
	info: SessionInfo;
	intervalMs: number;
	topN?: number;
	/**
	Least time between two redraws for new samples, in ms (key presses redraw at once). Measured with 32 threads
	at 160x45 with the I/O panel (bench/screen-heap.mjs): a redraw costs 3-6 ms of CPU with the render fast paths of
	patches/ (19-20 ms without). @default 1000, as py-spy top (htop 1.5 s, perf top 2 s)
	*/
	refreshMs?: number;
	analysis?: Analysis;
	effects?: StoreEffects;
	/** Read throughput of a thread, when known. */
	readRateOf?: (tid: number) => number | undefined;
	now?: () => number;
}

interface UiState {
	selectedKey: string;
	focus: 'threads' | 'hot';
	zoomed: boolean;
	hotCursor: number;
	sortBy: SortKey;
	windowIndex: number;
	paused: boolean;
	hideIdle: boolean;
	filter: string;
	filterDraft: string;
	mode: InputMode;
	status: View['status'];
	mark: Mark | undefined;
}

/** The store. `subscribe`/`getSnapshot` follow React's useSyncExternalStore contract. */
export class Store {
	readonly analysis: Analysis;
	/** While paused: a frozen copy the view is built from; sampling goes on into `profile`. */
	private frozen: Profile | undefined;
	readonly stops = new StopStats();
	private readonly recentAt: number[] = [];
	errors = 0;
	lastError: string | undefined;
	sampler: SamplerStatus = {state: 'attaching'};
	intervalMs: number;
	columns = 100;
	rows = 30;
	extra: Record<string, unknown> = {};
	readonly ui: UiState;
	private view: View;
	private readonly listeners = new Set<() => void>();
	private dirty = false;
	private timer: NodeJS.Timeout | undefined;
	private lastPublish = 0;
	private readonly minGapMs: number;
	private readonly now: () => number;

	constructor(public options: StoreOptions) {
		this.analysis = options.analysis ?? new Analysis();
		this.intervalMs = options.intervalMs;
		this.minGapMs = options.refreshMs ?? 1000;
		this.now = options.now ?? Date.now;
		this.ui = {selectedKey: 'all', focus: 'threads', zoomed: false, hotCursor: 0, sortBy: 'own%', windowIndex: 0, paused: false, hideIdle: false, filter: '', filterDraft: '', mode: 'normal', status: undefined, mark: undefined};
		this.view = this.build();
	}

	subscribe = (listener: () => void): (() => void) => {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	};

	getSnapshot = (): View => this.view;

	/** The window in force. */
	get window(): WindowSpec {
		return WINDOWS[this.ui.windowIndex]!;
	}

	/** The live aggregate (sampling goes on into it even while paused). */
	get profile(): Profile {
		return this.analysis.profile;
	}

	/** Feed one sample. */
	ingest(sample: Sample): void {
		this.analysis.ingest(sample);
		this.stops.add(sample.stopMs);
		this.recentAt.push(sample.atMs);
		if (this.recentAt.length > 50) this.recentAt.shift();
		if (sample.errors.length > 0) {
			this.errors += sample.errors.length;
			this.lastError = sanitize(sample.errors[sample.errors.length - 1]!.message);
		}
		this.invalidate();
	}

	setSamplerStatus(status: SamplerStatus): void {
		this.sampler = status;
		if (status.message) this.setStatus(status.message, status.state === 'sampling' || status.state === 'target-exited' ? 'warn' : 'error');
		this.invalidate(true);
	}

	/** A new target (--follow): the header shows it; earlier threads stay, marked as exited. */
	setInfo(info: Partial<SessionInfo>): void {
		this.options.info = {...this.options.info, ...info};
		this.invalidate(true);
	}

	/** The sampler changed the interval by itself (overhead guard). */
	setIntervalMs(ms: number): void {
		this.intervalMs = ms;
		this.invalidate(true);
	}

	setSize(columns: number, rows: number): void {
		this.columns = columns;
		this.rows = rows;
		this.invalidate(true);
	}

	setExtra(name: string, value: unknown): void {
		this.extra = {...this.extra, [name]: value};
		this.invalidate();
	}

	setStatus(text: string, level: 'info' | 'warn' | 'error' = 'info'): void {
		this.ui.status = {text: sanitize(text), level};
		this.invalidate(true);
	}

	/** Apply an intent from a key or the program. */
	dispatch(intent: Intent): void {
		const ui = this.ui;
		// Keys act on what is on screen now, not on a view older than the last samples.
		this.publish();
		switch (intent.type) {
			case 'cursor': {
				if (ui.focus === 'threads' && !ui.zoomed) {
					const keys = this.view.threads.map(t => t.key);
					const i = Math.max(0, keys.indexOf(ui.selectedKey));
					const j = clamp(i + intent.delta, 0, keys.length - 1);
					ui.selectedKey = keys[j] ?? 'all';
					ui.hotCursor = 0;
				} else {
					ui.hotCursor = clamp(ui.hotCursor + intent.delta, 0, Math.max(0, this.view.hot.rows.length - 1));
				}
				break;
			}
			case 'toggle-focus':
				ui.focus = ui.focus === 'threads' ? 'hot' : 'threads';
				break;
			case 'zoom':
				ui.zoomed = !ui.zoomed;
				ui.focus = ui.zoomed ? 'hot' : 'threads';
				break;
			case 'select-all':
				ui.selectedKey = 'all';
				ui.zoomed = false;
				ui.hotCursor = 0;
				break;
			case 'sort':
				ui.sortBy = intent.by;
				break;
			case 'toggle-pause':
				ui.paused = !ui.paused;
				this.frozen = ui.paused ? this.profile.clone() : undefined;
				this.setStatus(ui.paused ? 'paused: the view is frozen, sampling goes on (p to resume)' : 'resumed');
				break;
			case 'reset':
				this.analysis.reset();
				if (this.frozen) this.frozen = this.profile.clone();
				this.stops.reset();
				this.errors = 0;
				this.lastError = undefined;
				this.setStatus('counters reset');
				break;
			case 'cycle-window':
				ui.windowIndex = (ui.windowIndex + 1) % WINDOWS.length;
				break;
			case 'interval': {
				if (this.options.info.replay) {
					this.setStatus('a replay keeps the recorded interval', 'warn');
					break;
				}
				const ms = clamp(Math.round(this.intervalMs * intent.factor), 20, 10_000);
				this.intervalMs = ms;
				this.options.effects?.setIntervalMs?.(ms);
				this.setStatus(`sampling every ${ms} ms`);
				break;
			}
			case 'toggle-idle':
				ui.hideIdle = !ui.hideIdle;
				this.setStatus(ui.hideIdle ? 'idle samples hidden' : 'idle samples shown');
				break;
			case 'filter-start':
				ui.mode = 'filter';
				ui.filterDraft = ui.filter;
				break;
			case 'filter-type':
				ui.filterDraft += intent.text;
				ui.filter = ui.filterDraft;
				break;
			case 'filter-backspace':
				ui.filterDraft = ui.filterDraft.slice(0, -1);
				ui.filter = ui.filterDraft;
				break;
			case 'filter-done':
				ui.mode = 'normal';
				break;
			case 'filter-clear':
				ui.filter = '';
				ui.filterDraft = '';
				ui.mode = 'normal';
				break;
			case 'snapshot':
				this.options.effects?.snapshot?.();
				break;
			case 'toggle-mark':
				ui.mark = ui.mark ? undefined : takeMark(this.shown, this.window, ui.hideIdle, this.now());
				this.setStatus(ui.mark ? 'marked: the hot list now shows each frame\'s change since this moment (m clears)' : 'mark cleared');
				break;
			case 'toggle-help':
				ui.mode = ui.mode === 'help' ? 'normal' : 'help';
				break;
			case 'quit':
				this.options.effects?.quit?.();
				break;
		}
		this.invalidate(true);
	}

	/** Rebuild the view now (tests, headless) and return it. */
	flush(): View {
		if (this.timer) clearTimeout(this.timer);
		this.timer = undefined;
		this.publish();
		return this.view;
	}

	/** Stop pending redraw timers. */
	dispose(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = undefined;
		this.listeners.clear();
	}

	/** The profile the view shows (frozen while paused). */
	get shown(): Profile {
		return this.frozen ?? this.profile;
	}

	// Redraws are bounded: at most one per minGapMs whatever the sampling rate; key presses redraw at once.
	private invalidate(now = false): void {
		this.dirty = true;
		if (now) {
			this.publish();
			return;
		}
		if (this.timer) return;
		const wait = Math.max(0, this.lastPublish + this.minGapMs - this.now());
		this.timer = setTimeout(() => {
			this.timer = undefined;
			this.publish();
		}, wait);
		this.timer.unref?.();
	}

	private publish(): void {
		if (!this.dirty) return;
		this.dirty = false;
		this.lastPublish = this.now();
		this.view = this.build();
		for (const l of this.listeners) l();
	}

	private build(): View {
		const ui = this.ui;
		const p = this.shown;
		const window = this.window;
		const threads: ThreadRowView[] = [];
		const allCounts = p.counts('all', window);
		threads.push({key: 'all', tid: 0, name: 'all threads', samples: allCounts?.samples ?? 0, busyShare: allCounts && allCounts.samples ? allCounts.busySamples / allCounts.samples : 0, top: '', gone: false});
		for (const role of GROUP_ROLES) {
			const c = p.counts(`role:${role}`, window);
			if (!p.series.has(`role:${role}`)) continue;
			const top = p.top(`role:${role}`, {window, n: 1, hideIdle: ui.hideIdle, sortBy: 'own'})[0];
			threads.push({key: `role:${role}`, tid: 0, name: groupName(role), samples: c?.samples ?? 0, busyShare: c && c.samples ? c.busySamples / c.samples : 0, top: top?.func ?? '', gone: false, role});
		}
		for (const s of p.threads()) {
			const c = p.counts(s.key, window)!;
			const tid = Number(s.key.slice(4));
			const top = p.top(s.key, {window, n: 1, hideIdle: ui.hideIdle, sortBy: 'own'})[0];
			threads.push({
				key: s.key,
				tid,
				name: s.name,
				samples: c.samples,
				busyShare: c.samples ? c.busySamples / c.samples : 0,
				top: top?.func ?? '',
				gone: s.goneAtMs !== undefined,
				role: this.analysis.roleOf(tid),
				readBytesPerSec: this.options.readRateOf?.(tid),
			});
		}
		let selected = threads.findIndex(t => t.key === ui.selectedKey);
		if (selected < 0) {
			selected = 0;
			ui.selectedKey = 'all';
		}
		const sel = threads[selected]!;
		const counts = p.counts(sel.key, window);
		const top = p.top(sel.key, {window, sortBy: ui.sortBy, hideIdle: ui.hideIdle, filter: ui.filter || undefined, n: ui.mark ? undefined : this.options.topN ?? 200});
		const rows: HotRowView[] = ui.mark ? diffView(ui.mark, sel.key, top, ui.sortBy, ui.filter).slice(0, this.options.topN ?? 200) : top;
		const samples = counts ? (ui.hideIdle ? counts.busySamples : counts.samples) : 0;
		const stop = this.stops.summary(this.intervalMs);
		const at = this.recentAt;
		return {
			columns: this.columns,
			rows: this.rows,
			header: {
				pid: this.options.info.pid,
				command: sanitize(this.options.info.command),
				backend: this.options.info.reader ? `${this.options.info.backend}/${this.options.info.reader}` : this.options.info.backend,
				state: this.sampler.state,
				stateMessage: this.sampler.message,
				samples: this.profile.samples,
				rateHz: sampleRate(at),
				intervalMs: this.intervalMs,
				lastStopMs: stop.lastMs,
				medianStopMs: stop.medianMs,
				p95StopMs: stop.p95Ms,
				dutyPct: stop.dutyPct,
				errors: this.errors,
				lastError: this.lastError,
				paused: ui.paused,
				windowLabel: windowLabel(window),
				hideIdle: ui.hideIdle,
				notes: this.options.info.notes ?? [],
			},
			threads,
			selected,
			focus: ui.focus,
			zoomed: ui.zoomed,
			hot: {
				title: sel.tid === 0 ? sel.name : `${sel.name} (TID ${sel.tid})`,
				seriesKey: sel.key,
				rows,
				sortBy: ui.sortBy,
				samples,
				cursor: Math.min(ui.hotCursor, Math.max(0, rows.length - 1)),
				markedAtMs: ui.mark?.atMs,
				filter: ui.filter,
			},
			status: ui.status,
			mode: ui.mode,
			filterDraft: ui.filterDraft,
			extra: this.extra,
		};
	}
}

/** `10 s`, `60 s`, `whole run`. */
export function windowLabel(window: WindowSpec): string {
	return window === 'all' ? 'whole run' : `${window / 1000} s`;
}

function clamp(v: number, lo: number, hi: number): number {
	return Math.min(hi, Math.max(lo, v));
}
