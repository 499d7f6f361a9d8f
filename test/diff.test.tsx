import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import App from '../components/App.js';
import {Store} from '../src/app/store.js';
import type {Sample} from '../src/profile/model.js';
import {settle} from './helpers/ink.js';

// One vCPU whose split of time goes from 70/30 to 30/70: samples every 100 ms, 10 % steps.
function vcpuSamples(from: number, n: number, computeTenths: number): Sample[] {
	return Array.from({length: n}, (_, i) => ({
		atMs: from + i * 100,
		stopMs: 1,
		errors: [],
		threads: [{tid: 7, name: 'CPU 0/KVM', frames: ['kvm_vcpu_thread_fn', 'vcpu_run', i % 10 < computeTenths ? 'guest_compute' : 'guest_mmio'].map(func => ({func, file: 'qemu-demo.c'})).reverse()}],
	}));
}

describe('live diff against a mark (key m)', () => {
	it('a split that changes from 70/30 to 30/70 after the mark shows -40/+40 pp, sorted by change', async () => {
		const store = new Store({info: {pid: 1, command: 'demo', backend: 'mi'}, intervalMs: 100, now: () => 0});
		for (const s of vcpuSamples(0, 100, 7)) store.ingest(s);
		store.dispatch({type: 'cursor', delta: 2}); // all threads, all vCPUs, CPU 0/KVM
		let view = store.flush();
		expect(view.hot.title).toBe('CPU 0/KVM (TID 7)');
		store.dispatch({type: 'toggle-mark'});
		// 10 s later the 10 s window holds only the new phase.
		for (const s of vcpuSamples(10_000, 100, 3)) store.ingest(s);
		view = store.flush();
		const byFunc = Object.fromEntries(view.hot.rows.map(r => [r.func, r]));
		expect(byFunc.guest_compute!.deltaOwnPp).toBeCloseTo(-40, 5);
		expect(byFunc.guest_mmio!.deltaOwnPp).toBeCloseTo(40, 5);
		expect(byFunc.vcpu_run!.deltaTotalPp).toBeCloseTo(0, 5);
		expect(view.hot.rows.slice(0, 2).map(r => r.func).sort()).toEqual(['guest_compute', 'guest_mmio']);
		expect(view.hot.markedAtMs).toBe(0);

		const r = render(<App store={store} />);
		await settle();
		expect(r.lastFrame()).toMatch(/30\.0\s+30\.0\s+30\s+30\s+-40\.0\s+-40\.0\s+guest_compute/);
		expect(r.lastFrame()).toMatch(/70\.0\s+70\.0\s+70\s+70\s+\+40\.0\s+\+40\.0\s+guest_mmio/);
		r.stdin.write('m');
		await settle();
		expect(store.flush().hot.markedAtMs).toBeUndefined();
		expect(r.lastFrame()).not.toContain('Δ');
		r.unmount();
		store.dispose();
	});

	it('a frame that disappears after the mark is listed with its loss', () => {
		const store = new Store({info: {pid: 1, command: 'demo', backend: 'mi'}, intervalMs: 100, now: () => 0});
		for (const s of vcpuSamples(0, 100, 7)) store.ingest(s);
		store.dispatch({type: 'toggle-mark'});
		for (const s of vcpuSamples(10_000, 100, 10)) store.ingest(s);
		const rows = store.flush().hot.rows;
		expect(rows.find(r => r.func === 'guest_mmio')).toMatchObject({own: 0, deltaOwnPp: expect.closeTo(-30, 5)});
		store.dispose();
	});
});
