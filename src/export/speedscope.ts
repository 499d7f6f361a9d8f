// The speedscope file format (https://www.speedscope.app/file-format-schema.json): one sampled profile per
// series, a shared de-duplicated frame table. Pure.

import type {SnapshotSeries} from './snapshot.js';

/** The `$schema` every speedscope file names. */
export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

/** A frame of the shared table: the function, and its library or source file. */
export interface SpeedscopeFrame {
	name: string;
	file?: string;
}

/** A sampled profile: `samples[i]` is a stack of frame indices, root first, that occurred `weights[i]` times. */
export interface SpeedscopeSampledProfile {
	type: 'sampled';
	name: string;
	unit: 'none';
	startValue: number;
	endValue: number;
	samples: number[][];
	weights: number[];
}

/** A whole speedscope file as pmptop writes it. */
export interface SpeedscopeFile {
	$schema: typeof SPEEDSCOPE_SCHEMA;
	name: string;
	exporter: string;
	activeProfileIndex: number;
	shared: {frames: SpeedscopeFrame[]};
	profiles: SpeedscopeSampledProfile[];
}

/** The name shown for a stack without frames (speedscope draws nothing for an empty stack). */
export const NO_FRAMES = '(no frames)';

/**
Build the speedscope document: one profile per series named by its label, weights = sample counts,
`endValue` = the total weight. `frames` is the profile's frame table (index = frame id); only frames that occur
are put in the shared table, each (name, file) once, in order of first use.
*/
export function speedscopeDocument(
	series: readonly SnapshotSeries[],
	frames: ReadonlyArray<{func: string; where: string}>,
	meta: {name: string; exporter: string},
): SpeedscopeFile {
	const shared: SpeedscopeFrame[] = [];
	const byName = new Map<string, number>();
	const indexOf = (name: string, file: string): number => {
		const k = `${name}\u0000${file}`;
		let i = byName.get(k);
		if (i === undefined) {
			i = shared.length;
			shared.push(file ? {name, file} : {name});
			byName.set(k, i);
		}
		return i;
	};
	const byId = new Map<number, number>();
	const profiles: SpeedscopeSampledProfile[] = [];
	let busiest = 0;
	for (const s of series) {
		const samples: number[][] = [];
		const weights: number[] = [];
		let total = 0;
		for (const stack of s.stacks) {
			const stackIdx = stack.frames.map(id => {
				let i = byId.get(id);
				if (i === undefined) {
					const f = frames[id];
					i = indexOf(f?.func || '??', f?.where ?? '');
					byId.set(id, i);
				}
				return i;
			});
			samples.push(stackIdx.length ? stackIdx : [indexOf(NO_FRAMES, '')]);
			weights.push(stack.count);
			total += stack.count;
		}
		if (total > (profiles[busiest]?.endValue ?? 0)) busiest = profiles.length;
		profiles.push({type: 'sampled', name: s.label, unit: 'none', startValue: 0, endValue: total, samples, weights});
	}
	return {$schema: SPEEDSCOPE_SCHEMA, name: meta.name, exporter: meta.exporter, activeProfileIndex: busiest, shared: {frames: shared}, profiles};
}

/** The speedscope document as JSON text (one line plus a newline). */
export function renderSpeedscope(
	series: readonly SnapshotSeries[],
	frames: ReadonlyArray<{func: string; where: string}>,
	meta: {name: string; exporter: string},
): string {
	return JSON.stringify(speedscopeDocument(series, frames, meta)) + '\n';
}
