// A plain, serialisable report of a profile: what headless output and snapshot files are made from. Pure.

import type {Profile, SortKey, WindowSpec} from '../profile/aggregate.js';

export interface ReportFrame {
	func: string;
	where: string;
	own: number;
	total: number;
	/** Fractions of the thread's samples (0..1). */
	ownShare: number;
	totalShare: number;
}

export interface ReportThread {
	key: string;
	tid: number;
	name: string;
	role?: string;
	samples: number;
	busySamples: number;
	gone: boolean;
	frames: ReportFrame[];
}

export interface Report {
	pid: number;
	command: string;
	backend: string;
	takenAtMs: number;
	samples: number;
	firstAtMs?: number;
	lastAtMs?: number;
	window: string;
	intervalMs: number;
	stop: {lastMs: number; medianMs: number; p95Ms: number; dutyPct: number};
	hideIdle: boolean;
	threads: ReportThread[];
	/** Extra sections (I/O panel figures...), already plain data. */
	extra?: Record<string, unknown>;
}

export interface ReportOptions {
	pid: number;
	command: string;
	backend: string;
	window: WindowSpec;
	windowLabel: string;
	intervalMs: number;
	top: number;
	sortBy?: SortKey;
	hideIdle?: boolean;
	stop: Report['stop'];
	roleOf?: (tid: number) => string | undefined;
	takenAtMs: number;
	/** Include the all-threads series first. @default true */
	includeAll?: boolean;
	extra?: Record<string, unknown>;
}

/** Build the report: per thread (all-threads first) the top N frames with counts and shares. */
export function buildReport(profile: Profile, o: ReportOptions): Report {
	const threads: ReportThread[] = [];
	const series = [...(o.includeAll === false ? [] : [profile.series.get('all')].filter(s => s !== undefined)), ...profile.threads()];
	for (const s of series) {
		const c = profile.counts(s.key, o.window);
		if (!c || c.samples === 0) continue;
		const tid = s.key === 'all' ? 0 : Number(s.key.slice(4));
		const rows = profile.top(s.key, {window: o.window, n: o.top, sortBy: o.sortBy, hideIdle: o.hideIdle});
		threads.push({
			key: s.key,
			tid,
			name: s.key === 'all' ? 'all threads' : s.name,
			role: tid ? o.roleOf?.(tid) : undefined,
			samples: c.samples,
			busySamples: c.busySamples,
			gone: s.goneAtMs !== undefined,
			frames: rows.map(r => ({func: r.func, where: r.where, own: r.own, total: r.total, ownShare: r.ownShare, totalShare: r.totalShare})),
		});
	}
	return {
		pid: o.pid,
		command: o.command,
		backend: o.backend,
		takenAtMs: o.takenAtMs,
		samples: profile.samples,
		firstAtMs: profile.firstAtMs,
		lastAtMs: profile.lastAtMs,
		window: o.windowLabel,
		intervalMs: o.intervalMs,
		stop: o.stop,
		hideIdle: o.hideIdle ?? false,
		threads,
		extra: o.extra,
	};
}

const pct = (x: number) => (x * 100).toFixed(1).padStart(6);
const num = (x: number) => Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '-';

/** The report as readable text: a header, then one table per thread. */
export function reportToText(r: Report): string {
	const lines: string[] = [];
	lines.push(`pmptop report for PID ${r.pid}: ${r.command}`);
	lines.push(`taken ${new Date(r.takenAtMs).toISOString()}  backend ${r.backend}  samples ${r.samples}  interval ${r.intervalMs} ms  window ${r.window}${r.hideIdle ? '  idle samples hidden' : ''}`);
	lines.push(`stop per sample: last ${num(r.stop.lastMs)} ms, median ${num(r.stop.medianMs)} ms, p95 ${num(r.stop.p95Ms)} ms; duty cycle ${num(r.stop.dutyPct)}%`);
	for (const section of Object.values(r.extra ?? {})) {
		if (typeof section === 'string' && section) lines.push(section);
	}
	for (const t of r.threads) {
		lines.push('');
		const who = t.key === 'all' ? 'all threads' : `thread ${t.name} (TID ${t.tid})${t.role ? ` role ${t.role}` : ''}${t.gone ? ' [exited]' : ''}`;
		lines.push(`${who}: ${t.samples} samples, ${t.samples ? ((t.busySamples / t.samples) * 100).toFixed(1) : '0.0'}% busy`);
		lines.push('  OWN%  TOTAL%     OWN   TOTAL  FUNCTION (WHERE)');
		for (const f of t.frames) {
			lines.push(`${pct(f.ownShare)}  ${pct(f.totalShare)}  ${String(f.own).padStart(6)}  ${String(f.total).padStart(6)}  ${f.func}${f.where ? ` (${f.where})` : ''}`);
		}
	}
	return lines.join('\n') + '\n';
}

/** The report as JSON (stable field names, shares as fractions). */
export function reportToJson(r: Report): string {
	return JSON.stringify(r, null, 2) + '\n';
}
