// Snapshot files (key `s`, headless `--output DIR`): the hot list as text, the stacks as folded text and as a
// speedscope file. Pure: renders strings; src/export/write.ts puts them on disk.

import type {Profile, WindowSpec} from '../profile/aggregate.js';
import {renderFolded} from './folded.js';
import {reportToText, type Report} from './report.js';
import {renderSpeedscope} from './speedscope.js';

/**
Everything one snapshot is made from.
- `profile`, `window`: the stacks and their counts (`profile.counts(key, window).stacks`).
- `threads`: `'all'` for every thread (one entry per `tid:N` series with samples in the window; the `all`
  series key means the same), or one series key (`tid:N`, or a group such as `role:vcpu`, written as one
  entry labelled with the report's group name, e.g. `all vCPUs`).
- `report`: the hot lists for the `.txt`, built by `buildReport` for the same window (its `extra` string
  sections and its `io` figures are printed after the header). With one series selected, the `.txt` keeps
  only that series' table.
- `version`: pmptop's version, for the speedscope file's `exporter`.
- `hideIdle`: leave idle stacks out of `.folded` and `.speedscope.json` too. @default false
*/
export interface SnapshotInput {
	profile: Profile;
	window: WindowSpec;
	threads: 'all' | string;
	report: Report;
	version: string;
	hideIdle?: boolean;
}

/** The three files' contents, keyed by kind; `SNAPSHOT_EXTENSIONS` gives each kind's file name suffix. */
export interface SnapshotFiles {
	txt: string;
	folded: string;
	speedscope: string;
}

/** File name suffix of each kind of snapshot file, in the order they are written. */
export const SNAPSHOT_EXTENSIONS: Readonly<Record<keyof SnapshotFiles, string>> = {
	txt: '.txt',
	folded: '.folded',
	speedscope: '.speedscope.json',
};

/** One stack of a snapshot series: frame ids root first, and how many samples had it. */
export interface SnapshotStack {
	frames: number[];
	count: number;
}

/**
One series as the exporters see it: `label` names it (`CPU 0/KVM (TID 123)`), `tid` is undefined for a group,
`samples` is the sum of the stacks' counts. Stacks are sorted by their root-first frame keys.
*/
export interface SnapshotSeries {
	key: string;
	tid?: number;
	name: string;
	label: string;
	samples: number;
	stacks: SnapshotStack[];
}

/**
The series a snapshot covers, in TID order, each with its distinct stacks in the window (root first). A thread
is labelled `name (TID n)`; any other series (a role group) by `groupLabel(key)`, else by its key.
*/
export function snapshotSeries(
	profile: Profile,
	window: WindowSpec,
	threads: 'all' | string,
	hideIdle = false,
	groupLabel: (key: string) => string | undefined = () => undefined,
): SnapshotSeries[] {
	const selected = threads === 'all' ? profile.threads() : [profile.series.get(threads)].filter(s => s !== undefined);
	const out: SnapshotSeries[] = [];
	for (const s of selected) {
		const counts = profile.counts(s.key, window);
		if (!counts) continue;
		const tid = s.key.startsWith('tid:') ? Number(s.key.slice(4)) : undefined;
		const stacks: Array<SnapshotStack & {sortKey: string}> = [];
		let samples = 0;
		for (const [stackId, count] of counts.stacks) {
			if (count <= 0) continue;
			if (hideIdle && profile.stacks[stackId]?.cls === 'idle') continue;
			const frames = [...profile.stackFrames(stackId)].reverse();
			stacks.push({frames, count, sortKey: frames.map(id => profile.frames[id]?.key ?? '').join('\u0000')});
			samples += count;
		}
		if (samples === 0) continue;
		stacks.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : b.count - a.count));
		out.push({
			key: s.key,
			tid,
			name: tid === undefined ? groupLabel(s.key) ?? s.key : s.name,
			label: tid === undefined ? groupLabel(s.key) ?? s.key : `${s.name} (TID ${tid})`,
			samples,
			stacks: stacks.map(({frames, count}) => ({frames, count})),
		});
	}
	return out;
}

/** Render the three snapshot files from one input. */
export function renderSnapshot(input: SnapshotInput): SnapshotFiles {
	const {profile, report} = input;
	const groupLabel = (key: string) => report.groups?.find(g => g.key === key)?.name;
	const series = snapshotSeries(profile, input.window, input.threads, input.hideIdle ?? false, groupLabel);
	const only = <T extends {key: string}>(list: T[]) => list.filter(t => t.key === input.threads);
	const shown: Report = input.threads === 'all'
		? report
		: {...report, threads: only(report.threads), ...(report.groups ? {groups: only(report.groups)} : {})};
	return {
		txt: reportToText(shown),
		folded: renderFolded(series, profile.frames),
		speedscope: renderSpeedscope(series, profile.frames, {
			name: `pmptop PID ${report.pid}: ${clip(report.command, 100)} (window ${report.window})`,
			exporter: `pmptop@${input.version}`,
		}),
	};
}

/** At most `max` characters: QEMU command lines run to kilobytes, too long for speedscope's title bar. */
function clip(text: string, max: number): string {
	return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `pmptop-<pid>-<YYYYmmdd-HHMMSS>` in local time: the base name of a snapshot's three files. */
export function snapshotBaseName(pid: number, date: Date = new Date()): string {
	const two = (n: number) => String(n).padStart(2, '0');
	const day = `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}`;
	const time = `${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
	return `pmptop-${pid}-${day}-${time}`;
}
