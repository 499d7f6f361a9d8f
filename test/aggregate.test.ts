import {describe, expect, it} from 'vitest';
import {Profile, Ring} from '../src/profile/aggregate.js';
import type {Frame, Sample, ThreadStack} from '../src/profile/model.js';

const f = (func: string, lib?: string): Frame => ({func, lib});
/** A thread stack from root-to-leaf names, the way people read them. */
const stack = (tid: number, name: string, rootToLeaf: string[]): ThreadStack => ({tid, name, frames: rootToLeaf.map(n => f(n, 'demo')).reverse()});
const sample = (atMs: number, threads: ThreadStack[]): Sample => ({atMs, stopMs: 1, threads, errors: []});

describe('Profile', () => {
	it('counts own for the leaf and total once per stack even under recursion', () => {
		const p = new Profile();
		p.ingest(sample(0, [stack(1, 'a', ['main', 'fib', 'fib', 'fib'])]));
		p.ingest(sample(1, [stack(1, 'a', ['main', 'fib', 'work'])]));
		const rows = p.top('tid:1', {window: 'all'});
		const byName = Object.fromEntries(rows.map(r => [r.func, r]));
		expect(byName.fib).toMatchObject({own: 1, total: 2, ownShare: 0.5, totalShare: 1});
		expect(byName.main).toMatchObject({own: 0, total: 2});
		expect(byName.work).toMatchObject({own: 1, total: 1});
	});

	it('keys frames by function and library, never by arguments or addresses', () => {
		const p = new Profile();
		p.ingest(sample(0, [{tid: 1, name: 'a', frames: [{func: 'ppoll', lib: '/lib/libc.so.6', addr: '0x1'}]}]));
		p.ingest(sample(1, [{tid: 1, name: 'a', frames: [{func: 'ppoll', lib: '/lib/libc.so.6', addr: '0x2'}]}]));
		expect(p.top('tid:1', {window: 'all'})).toEqual([expect.objectContaining({key: 'ppoll (libc.so.6)', own: 2})]);
	});

	it('collapses runs of ?? frames of the same library into one', () => {
		const p = new Profile();
		p.ingest(sample(0, [{tid: 1, name: 'a', frames: [f('leaf', 'x'), f('??', 'qemu'), f('??', 'qemu'), f('??', 'libc'), f('root', 'x')]}]));
		const s = p.series.get('tid:1')!.lastStack!;
		expect([...s.frames].map(id => p.frames[id]!.key)).toEqual(['leaf (x)', '?? (qemu)', '?? (libc)', 'root (x)']);
	});

	it('slides the window: old samples leave it, the whole run keeps them', () => {
		const p = new Profile({windowsMs: [10_000]});
		p.ingest(sample(0, [stack(1, 'a', ['main', 'old'])]));
		p.ingest(sample(5_000, [stack(1, 'a', ['main', 'old'])]));
		p.ingest(sample(12_000, [stack(1, 'a', ['main', 'new'])]));
		expect(p.top('tid:1', {window: 10_000}).map(r => [r.func, r.own])).toEqual([['new', 1], ['old', 1], ['main', 0]]);
		p.ingest(sample(15_001, [stack(1, 'a', ['main', 'new'])]));
		expect(p.top('tid:1', {window: 10_000}).map(r => [r.func, r.own])).toEqual([['new', 2], ['main', 0]]);
		expect(p.counts('tid:1', 10_000)!.samples).toBe(2);
		expect(p.top('tid:1', {window: 'all'}).map(r => [r.func, r.own])).toEqual([['new', 2], ['old', 2], ['main', 0]]);
	});

	it('keeps threads that vanish, marked gone, and revives a TID that returns', () => {
		const p = new Profile();
		p.ingest(sample(0, [stack(1, 'main', ['m']), stack(2, 'worker', ['w'])]));
		p.ingest(sample(1, [stack(1, 'main', ['m'])]));
		expect(p.series.get('tid:2')!.goneAtMs).toBe(1);
		expect(p.top('tid:2', {window: 'all'})[0]).toMatchObject({func: 'w', own: 1});
		p.ingest(sample(2, [stack(1, 'main', ['m']), stack(2, 'worker', ['w'])]));
		expect(p.series.get('tid:2')!.goneAtMs).toBeUndefined();
	});

	it('the all-threads view divides by thread-samples, so shares never exceed 100%', () => {
		const p = new Profile();
		for (let i = 0; i < 10; i++) p.ingest(sample(i, [stack(1, 'a', ['x']), stack(2, 'b', ['x']), stack(3, 'c', ['y'])]));
		const rows = p.top('all', {window: 'all'});
		expect(rows[0]).toMatchObject({func: 'x', own: 20});
		expect(rows[0]!.ownShare).toBeCloseTo(2 / 3);
		expect(rows.reduce((sum, r) => sum + r.ownShare, 0)).toBeCloseTo(1);
	});

	it('sorts by each key and hides idle samples from counts and denominators', () => {
		const p = new Profile({classify: frames => (frames[0]!.func === 'ppoll' ? 'idle' : 'running')});
		for (let i = 0; i < 6; i++) p.ingest(sample(i, [stack(1, 'a', ['main', 'loop', 'ppoll'])]));
		for (let i = 6; i < 9; i++) p.ingest(sample(i, [stack(1, 'a', ['main', 'work'])]));
		p.ingest(sample(9, [stack(1, 'a', ['main', 'loop', 'spin'])]));
		expect(p.top('tid:1', {window: 'all', sortBy: 'own%'})[0]!.func).toBe('ppoll');
		expect(p.top('tid:1', {window: 'all', sortBy: 'total'})[0]!.func).toBe('main');
		expect(p.top('tid:1', {window: 'all', sortBy: 'own'})[0]!.func).toBe('ppoll');
		expect(p.top('tid:1', {window: 'all', sortBy: 'total%', n: 2}).map(r => r.func)).toEqual(['main', 'loop']);
		const busy = p.top('tid:1', {window: 'all', hideIdle: true});
		expect(busy.map(r => [r.func, r.own, r.ownShare])).toEqual([['work', 3, 0.75], ['spin', 1, 0.25], ['main', 0, 0], ['loop', 0, 0]]);
		expect(p.counts('tid:1', 'all')!.busySamples).toBe(4);
	});

	it('filters by substring of the frame key, case-insensitively', () => {
		const p = new Profile();
		p.ingest(sample(0, [stack(1, 'a', ['main', 'v9fs_walk', 'get_fid'])]));
		expect(p.top('tid:1', {window: 'all', filter: 'V9FS'}).map(r => r.func)).toEqual(['v9fs_walk']);
	});

	it('reset forgets counts; clone freezes them while the original goes on', () => {
		const p = new Profile();
		p.ingest(sample(0, [stack(1, 'a', ['x'])]));
		const frozen = p.clone();
		p.ingest(sample(1, [stack(1, 'a', ['y'])]));
		expect(frozen.top('tid:1', {window: 'all'}).map(r => r.func)).toEqual(['x']);
		expect(p.top('tid:1', {window: 'all'}).map(r => r.func)).toEqual(['x', 'y']);
		p.reset();
		expect(p.top('tid:1', {window: 'all'})).toEqual([]);
		expect(p.samples).toBe(0);
	});

	it('strips control characters from thread and function names', () => {
		const p = new Profile();
		p.ingest(sample(0, [{tid: 1, name: '\u001b[2Jevil\u0007', frames: [f('bad\u001b[31m', 'lib')]}]));
		expect(p.series.get('tid:1')!.name).toBe('[2Jevil');
		expect(p.top('tid:1', {window: 'all'})[0]!.func).toBe('bad[31m');
	});
});

describe('Ring (the windows\' entries in typed arrays)', () => {
	it('keeps entries in order across growth while old ones are dropped', () => {
		const ring = new Ring();
		const expected: Array<[number, number]> = [];
		// Interleave pushes and drops so that growth happens with start > 0 and wrapped contents.
		for (let i = 0; i < 5000; i++) {
			ring.push(i * 10, i % 97);
			expected.push([i * 10, i % 97]);
			if (i % 3 === 0 && ring.length > 100) {
				ring.start += 50;
				expected.splice(0, 50);
			}
		}
		expect(ring.length).toBe(expected.length);
		for (let k = 0; k < expected.length; k++) {
			expect([ring.atMs(ring.start + k), ring.id(ring.start + k)]).toEqual(expected[k]);
		}
	});

	it('a sliding window subtracts exactly what left it, over many ring growths', () => {
		const p = new Profile({windowsMs: [1000]});
		const leaves = ['a', 'b', 'c'];
		for (let i = 0; i < 3000; i++) p.ingest({atMs: i * 10, stopMs: 1, threads: [stack(1, 't', ['main', leaves[i % 3]!])], errors: []});
		// 1000 ms at 10 ms per sample: the last 100 samples, a third of them each.
		const c = p.counts('tid:1', 1000)!;
		expect(c.samples).toBe(100);
		const own = p.top('tid:1', {window: 1000}).map(r => [r.func, r.own]);
		expect(own).toEqual(expect.arrayContaining([['a', 33], ['b', 33], ['c', 34]]));
	});
});
