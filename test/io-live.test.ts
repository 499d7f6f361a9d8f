// The 9p panel's figures on a live process: the demo target's workers read with a known chunk size.
import {afterEach, describe, expect, it} from 'vitest';
import {createIoTracker, ingestIoReading, windowTotals} from '../src/procio/rate.js';
import {sampleIo} from '../src/procio/read.js';
import {toIoReport} from '../src/procio/view.js';
import {startTestDemo, type TestDemo} from './helpers/demo.js';

let demo: TestDemo | undefined;
afterEach(async () => {
	await demo?.cleanup();
	demo = undefined;
});

async function workerBytesPerRead(chunk: number): Promise<{bytesPerRead: number; reads: number; processBytesPerRead: number}> {
	demo = await startTestDemo(['--chunk', String(chunk), '--file-size', '4M', '--read-delay-us', '500']);
	let state = createIoTracker();
	for (let i = 0; i < 8; i++) {
		state = ingestIoReading(state, await sampleIo(demo.pid));
		await new Promise(r => setTimeout(r, 250));
	}
	const report = toIoReport(state, undefined, Date.now());
	const w = windowTotals(state.workers, Infinity);
	await demo.cleanup();
	demo = undefined;
	return {bytesPerRead: w.rchar / w.syscr, reads: w.syscr, processBytesPerRead: report.process.total.bytesPerRead ?? NaN};
}

describe('/proc I/O on the live demo target', () => {
	it('worker bytes per read follow the chunk size (4096, then 65536) within 5%, where the process figure does not', async () => {
		const small = await workerBytesPerRead(4096);
		expect(small.reads).toBeGreaterThan(100);
		expect(Math.abs(small.bytesPerRead - 4096) / 4096).toBeLessThan(0.05);
		const large = await workerBytesPerRead(65536);
		expect(large.reads).toBeGreaterThan(100);
		expect(Math.abs(large.bytesPerRead - 65536) / 65536).toBeLessThan(0.05);
		// The main loop's 8-byte eventfd reads pull the process-wide average far below the request size.
		expect(large.processBytesPerRead).toBeLessThan(large.bytesPerRead * 0.9);
	}, 30_000);
});
