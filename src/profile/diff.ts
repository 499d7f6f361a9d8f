// The live diff against a mark (key m): each series' shares at the mark, and each row's change since, in
// percentage points. Pure; shared by the screen and the snapshot report.

import type {HotRow, Profile, SortKey, WindowSpec} from './aggregate.js';

/** A frame's shares at the mark, with what is needed to list it again once it has vanished. */
type MarkedFrame = Pick<HotRow, 'ownShare' | 'totalShare' | 'func' | 'where' | 'key'>;

/** The baseline: per series key, per frame id, the shares at `atMs`. */
export interface Mark {
	atMs: number;
	shares: ReadonlyMap<string, ReadonlyMap<number, MarkedFrame>>;
}

/** A hot-list row with its change since the mark (percentage points). */
export interface ChangedRow extends HotRow {
	deltaOwnPp: number;
	deltaTotalPp: number;
}

/** Take a mark: every series' shares in `window` as the view shows them now. */
export function takeMark(profile: Profile, window: WindowSpec, hideIdle: boolean, atMs: number): Mark {
	const shares = new Map<string, Map<number, MarkedFrame>>();
	for (const key of profile.series.keys()) {
		const rows = profile.top(key, {window, hideIdle});
		shares.set(key, new Map(rows.map(r => [r.frameId, {ownShare: r.ownShare, totalShare: r.totalShare, func: r.func, where: r.where, key: r.key}])));
	}
	return {atMs, shares};
}

/** The rows of series `key` with their change since the mark. */
export function changesSince(mark: Mark, key: string, rows: readonly HotRow[]): ChangedRow[] {
	const base = mark.shares.get(key);
	return rows.map(r => {
		const b = base?.get(r.frameId);
		return {...r, deltaOwnPp: (r.ownShare - (b?.ownShare ?? 0)) * 100, deltaTotalPp: (r.totalShare - (b?.totalShare ?? 0)) * 100};
	});
}

/**
The diff view of series `key`: its rows with their change, plus the frames listed at the mark that have since
vanished (optionally only those whose key contains `filter`), largest change of the sorted column first.
*/
export function diffView(mark: Mark, key: string, rows: readonly HotRow[], sortBy: SortKey, filter = ''): ChangedRow[] {
	const out = changesSince(mark, key, rows);
	const seen = new Set(rows.map(r => r.frameId));
	const needle = filter.toLowerCase();
	for (const [frameId, b] of mark.shares.get(key) ?? []) {
		if (seen.has(frameId) || (needle && !b.key.toLowerCase().includes(needle))) continue;
		out.push({...b, frameId, own: 0, total: 0, ownShare: 0, totalShare: 0, deltaOwnPp: -b.ownShare * 100, deltaTotalPp: -b.totalShare * 100});
	}
	const byTotal = sortBy === 'total%' || sortBy === 'total';
	const size = (r: ChangedRow) => Math.abs(byTotal ? r.deltaTotalPp : r.deltaOwnPp);
	return out.sort((a, b) => size(b) - size(a) || (byTotal ? b.totalShare - a.totalShare : b.ownShare - a.ownShare) || (a.key < b.key ? -1 : 1));
}
