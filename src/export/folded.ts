// Folded stacks (`thread;root;...;leaf COUNT`), the input of flamegraph.pl, inferno and speedscope. Pure.

import type {SnapshotSeries} from './snapshot.js';

/**
A name as the folded format can carry it: `;` (the separator) becomes `:`, line breaks and other control
characters become spaces (runs of spaces one), and an empty name becomes `??`, so every line parses.
*/
export function foldedName(text: string): string {
	// eslint-disable-next-line no-control-regex
	const clean = text.replace(/;/g, ':').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/ {2,}/g, ' ').trim();
	return clean || '??';
}

/**
One line per distinct stack of each series, `label;root;...;leaf COUNT`: the series' label (`name (TID n)`)
is the first frame so threads stay apart; a frame is `func (where)` (an unnamed one `?? (where)`); a stack
without frames is the label alone. `frames` is the profile's frame table (index = frame id). Per series the
counts sum to its `samples`. Ends with a newline unless empty.
*/
export function renderFolded(series: readonly SnapshotSeries[], frames: ReadonlyArray<{func: string; where: string}>): string {
	const lines: string[] = [];
	for (const s of series) {
		const head = foldedName(s.label);
		for (const stack of s.stacks) {
			const names = stack.frames.map(id => {
				const f = frames[id];
				return foldedName(f?.where ? `${f.func || '??'} (${f.where})` : f?.func || '??');
			});
			lines.push(`${[head, ...names].join(';')} ${stack.count}`);
		}
	}
	return lines.length ? lines.join('\n') + '\n' : '';
}
