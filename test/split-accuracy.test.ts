// Correctness of sampling: the demo target's known 70/30 split of vCPU time, measured after 1,000 samples by each
// sampling mode of the persistent backend (all-stop with either frame reader, non-stop), within 3 percentage
// points; and each thread's busy share.
import {afterEach, describe, expect, it} from 'vitest';
import {MiBackend} from '../src/gdb/mi-backend.js';
import {Analysis} from '../src/profile/analysis.js';
import {Sampler} from '../src/sampler.js';
import {startTestDemo, waitUntil, type TestDemo} from './helpers/demo.js';

let demo: TestDemo | undefined;
afterEach(async () => {
	await demo?.cleanup();
	demo = undefined;
});

describe.each([
	['-stack-list-frames (default)', {}],
	['python walker (--python)', {python: true}],
	['non-stop mode (--non-stop)', {nonStop: true}],
])('1,000 samples with the %s', (_label, mode) => {
	it('measure the 70/30 split within 3 pp; vCPUs ~100% busy, call_rcu ~0%', async () => {
		// Phases of tens of ms: a signal reaches a spinning thread at its next tick, which would favour the longer phase
		// of short ones (10 ms rounds measured 74/26).
		demo = await startTestDemo(['--file-size', '1M', '--round-ms', '50']);
		const pid = demo.pid;
		const analysis = new Analysis();
		const sampler = new Sampler({pid, intervalMs: 20, maxOverhead: 0, createBackend: () => new MiBackend({pid, ...mode})});
		sampler.on('sample', s => analysis.ingest(s));
		await sampler.start();
		await waitUntil(() => analysis.profile.samples >= 1000, 170_000, 200);
		await sampler.stop();
		const p = analysis.profile;
		expect(p.samples).toBeGreaterThanOrEqual(1000);
		const rows = p.top('role:vcpu', {window: 'all'});
		const compute = rows.find(r => r.func === 'guest_compute')!.totalShare;
		const mmio = rows.find(r => r.func === 'guest_mmio')!.totalShare;
		const share = compute / (compute + mmio);
		console.log(`split: ${(share * 100).toFixed(1)}% compute over ${p.samples} samples`);
		expect(Math.abs(share - 0.7) * 100).toBeLessThan(3);
		const busy = (name: string) => {
			const s = p.threads().find(t => t.name === name)!;
			const c = p.counts(s.key, 'all')!;
			return c.busySamples / c.samples;
		};
		expect(busy('CPU 0/KVM')).toBeGreaterThan(0.95);
		expect(busy('call_rcu')).toBeLessThan(0.05);
	}, 200_000);
});
