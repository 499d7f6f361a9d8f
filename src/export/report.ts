// A plain, serialisable report of a profile: what headless output and snapshot files are made from. Pure.

import type {HotRow, Profile, SortKey, WindowSpec} from '../profile/aggregate.js';
import type {IoReport} from '../procio/view.js';
import {groupName} from '../profile/analysis.js';
import type {Role} from '../profile/roles.js';
import {changesSince, type ChangedRow, type Mark} from '../profile/diff.js';

/** A hot-list row as reported: counts and shares (fractions of the thread's samples, 0..1). */
export interface ReportFrame extends Pick<HotRow, 'func' | 'where' | 'own' | 'total' | 'ownShare' | 'totalShare'> {
	/** Change since the mark (key m), in percentage points, when a mark was set. */
	deltaOwnPp?: number;
	deltaTotalPp?: number;
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
	/** Role groups (all vCPUs, all workers...): samples of every thread of the role, whatever its TID. */
	groups?: ReportThread[];
	/** When a mark was set, frames carry their change since this time. */
	markedAtMs?: number;
	/** Extra sections (I/O panel figures...), already plain data. */
	extra?: Record<string, unknown>;
	/** The I/O panel's figures (/proc), when there are any. */
	io?: IoReport;
	/** Sampled 9p operations (from `v9fs_*` frames), largest first; empty on a stripped QEMU. */
	ninepOps?: Array<{op: string; samples: number; share: number}>;
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
	io?: IoReport;
	ninepOps?: Report['ninepOps'];
	/** A mark's shares per series key and frame id: frames then carry their change since. */
	mark?: Mark;
}

/** Build the report: per thread (all-threads first) the top N frames with counts and shares. */
export function buildReport(profile: Profile, o: ReportOptions): Report {
	const threads: ReportThread[] = [];
	const groups: ReportThread[] = [];
	const groupSeries = [...profile.series.values()].filter(s => s.key.startsWith('role:'));
	const series = [...(o.includeAll === false ? [] : [profile.series.get('all')].filter(s => s !== undefined)), ...profile.threads(), ...groupSeries];
	for (const s of series) {
		const c = profile.counts(s.key, o.window);
		if (!c || c.samples === 0) continue;
		const tid = s.key.startsWith('tid:') ? Number(s.key.slice(4)) : 0;
		const rows = profile.top(s.key, {window: o.window, n: o.top, sortBy: o.sortBy, hideIdle: o.hideIdle});
		const group = s.key.startsWith('role:');
		(group ? groups : threads).push({
			key: s.key,
			tid,
			name: s.key === 'all' ? 'all threads' : group ? groupName(s.key.slice(5) as Role) : s.name,
			role: tid ? o.roleOf?.(tid) : group ? s.key.slice(5) : undefined,
			samples: c.samples,
			busySamples: c.busySamples,
			gone: s.goneAtMs !== undefined,
			frames: (o.mark ? changesSince(o.mark, s.key, rows) : rows).map((r: HotRow & Partial<ChangedRow>): ReportFrame => ({
				func: r.func,
				where: r.where,
				own: r.own,
				total: r.total,
				ownShare: r.ownShare,
				totalShare: r.totalShare,
				...(r.deltaOwnPp === undefined ? {} : {deltaOwnPp: r.deltaOwnPp, deltaTotalPp: r.deltaTotalPp}),
			})),
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
		...(groups.length > 0 ? {groups} : {}),
		...(o.mark ? {markedAtMs: o.mark.atMs} : {}),
		extra: o.extra,
		...(o.io ? {io: o.io} : {}),
		...(o.ninepOps && o.ninepOps.length > 0 ? {ninepOps: o.ninepOps} : {}),
	};
}

const mb = (bytesPerSec: number | undefined) => (bytesPerSec === undefined ? '-' : `${(bytesPerSec / 1e6).toFixed(2)} MB/s`);
const perRead = (x: number | undefined) => (x === undefined ? '-' : `${Math.round(x).toLocaleString('en-US')} B/read`);

/** The I/O panel's figures as text lines (process, 9p workers, shares, hint). */
export function ioReportText(io: IoReport): string {
	const lines: string[] = [];
	const group = (label: string, g: IoReport['process']) => {
		if (g.status === 'not-permitted') return `${label}: not permitted to read /proc io counters`;
		const w = g.window;
		return `${label}: read ${mb(g.rates?.readBytesPerSec)}, write ${mb(g.rates?.writeBytesPerSec)}, ${g.rates ? g.rates.readsPerSec.toFixed(0) : '-'} reads/s; window ${perRead(w.bytesPerRead)} over ${w.syscr.toLocaleString('en-US')} reads; run ${perRead(g.total.bytesPerRead)} over ${g.total.syscr.toLocaleString('en-US')} reads`;
	};
	lines.push(`I/O (/proc): ${group('process', io.process)}`);
	lines.push(`I/O (/proc): ${group(`9p workers${io.workers.tids.length ? ` (TIDs ${io.workers.tids.join(' ')})` : ''}`, io.workers)}`);
	if (io.shares) {
		const shares = io.shares.shares.map(s => `${s.tag} -> ${s.path ?? '?'}`).join(', ');
		lines.push(shares ? `9p shares: ${shares}` : io.shares.virtiofs ? 'no 9p shares: served by virtiofsd, a different process' : 'no 9p shares on this process');
	}
	if (io.hint) lines.push(`hint: ${io.hint.text}`);
	return lines.join('\n');
}

const signed = (x: number | undefined) => {
	if (x === undefined) return ''.padStart(6);
	const v = Math.round(x * 10) / 10;
	return (v > 0 ? `+${v.toFixed(1)}` : v.toFixed(1)).padStart(6);
};

const pct = (x: number) => (x * 100).toFixed(1).padStart(6);
const num = (x: number) => Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '-';

/** The report as readable text: a header, then one table per thread. */
export function reportToText(r: Report): string {
	const lines: string[] = [];
	lines.push(`pmptop report for PID ${r.pid}: ${r.command}`);
	lines.push(`taken ${new Date(r.takenAtMs).toISOString()}  backend ${r.backend}  samples ${r.samples}  interval ${r.intervalMs} ms  window ${r.window}${r.hideIdle ? '  idle samples hidden' : ''}`);
	if (r.markedAtMs !== undefined) lines.push(`changes (Δ, percentage points) are since the mark at ${new Date(r.markedAtMs).toISOString()}`);
	lines.push(`stop per sample: last ${num(r.stop.lastMs)} ms, median ${num(r.stop.medianMs)} ms, p95 ${num(r.stop.p95Ms)} ms; duty cycle ${num(r.stop.dutyPct)}%`);
	if (r.io) lines.push(ioReportText(r.io));
	if (r.ninepOps) lines.push(`9p operations sampled: ${r.ninepOps.map(o => `${o.op} ${(o.share * 100).toFixed(0)}%`).join(', ')}`);
	for (const section of Object.values(r.extra ?? {})) {
		if (typeof section === 'string' && section) lines.push(section);
	}
	for (const t of [...r.threads, ...(r.groups ?? [])]) {
		lines.push('');
		const who = t.tid === 0 ? t.name : `thread ${t.name} (TID ${t.tid})${t.role ? ` role ${t.role}` : ''}${t.gone ? ' [exited]' : ''}`;
		lines.push(`${who}: ${t.samples} samples, ${t.samples ? ((t.busySamples / t.samples) * 100).toFixed(1) : '0.0'}% busy`);
		const marked = r.markedAtMs !== undefined;
		lines.push(`  OWN%  TOTAL%     OWN   TOTAL  ${marked ? '  ΔOWN  ΔTOTAL  ' : ''}FUNCTION (WHERE)`);
		for (const f of t.frames) {
			const delta = marked ? `${signed(f.deltaOwnPp)}  ${signed(f.deltaTotalPp)}  ` : '';
			lines.push(`${pct(f.ownShare)}  ${pct(f.totalShare)}  ${String(f.own).padStart(6)}  ${String(f.total).padStart(6)}  ${delta}${f.func}${f.where ? ` (${f.where})` : ''}`);
		}
	}
	return lines.join('\n') + '\n';
}

/** The report as JSON (stable field names, shares as fractions). */
export function reportToJson(r: Report): string {
	return JSON.stringify(r, null, 2) + '\n';
}
