// The patch of Ink 6.8 (patches/ink+6.8.0.patch, applied by `npm install`): its text-measuring and wrapping caches
// are bounded. Unpatched, every distinct text a live screen measured stayed in memory for good (ink#986).
import {execFileSync} from 'node:child_process';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {describe, expect, it} from 'vitest';

const build = dirname(fileURLToPath(import.meta.resolve('ink')));
const url = (file: string) => pathToFileURL(join(build, file)).href;

// In a process of its own with --expose-gc: the heap kept after measuring and wrapping N distinct texts.
function retainedMb(n: number): {measure: number; wrap: number} {
	const script = `
		const {default: measureText} = await import(${JSON.stringify(url('measure-text.js'))});
		const {default: wrapText} = await import(${JSON.stringify(url('wrap-text.js'))});
		const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
		const row = i => ' 12345 CPU 0/KVM       vcpu      100 100.0 guest_compute ' + String(i).padStart(9, '0') + ' '.repeat(40);
		const h0 = heap();
		for (let i = 0; i < ${n}; i++) measureText(row(i));
		const h1 = heap();
		for (let i = 0; i < ${n}; i++) wrapText(row(i), 60, 'truncate');
		const h2 = heap();
		console.log(JSON.stringify({measure: (h1 - h0) / 1e6, wrap: (h2 - h1) / 1e6}));
	`;
	return JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {encoding: 'utf8'})) as {measure: number; wrap: number};
}

describe('Ink patch', () => {
	it('keeps a bounded number of measured and wrapped texts: 100,000 distinct rows retain under 4 MB each (measured: 0.9 and 2.1 MB; unpatched 21 and 32 MB)', () => {
		const r = retainedMb(100_000);
		expect(r.measure).toBeLessThan(4);
		expect(r.wrap).toBeLessThan(4);
	});

	it('still caches and answers right: same text same answer, keys that ran together apart, Object.prototype names', async () => {
		const {default: measureText} = await import(url('measure-text.js')) as {default: (t: string) => {width: number; height: number}};
		const {default: wrapText} = await import(url('wrap-text.js')) as {default: (t: string, w: number, type: string) => string};
		expect(measureText('a\nbcd')).toEqual({width: 3, height: 2});
		expect(measureText('a\nbcd')).toBe(measureText('a\nbcd'));
		// 'ab' at 12 and 'ab1' at 2 made the same key before (ink#998).
		expect(wrapText('ab', 12, 'wrap')).toBe('ab');
		expect(wrapText('ab1', 2, 'wrap')).toBe('ab\n1');
		// An object cache answered 'constructor' with Object's constructor (ink#743).
		expect(wrapText('constructor', 20, 'wrap')).toBe('constructor');
		expect(wrapText('toString', 4, 'truncate')).toBe('toS…');
		// Entries survive a generation turn: 5,000 other texts later the first answer is still right.
		const first = wrapText('x'.repeat(30), 10, 'truncate');
		for (let i = 0; i < 5000; i++) wrapText(`row ${i}`, 3, 'truncate');
		expect(wrapText('x'.repeat(30), 10, 'truncate')).toBe(first);
	});
});
