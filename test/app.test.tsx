import {render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import App from '../components/App.js';
import {Store} from '../src/app/store.js';
import type {Sample} from '../src/profile/model.js';
import {stack} from './helpers/stacks.js';
import {KEYS, press, settle} from './helpers/ink.js';


function demoSamples(n: number, start = 0): Sample[] {
	return Array.from({length: n}, (_, i) => ({
		atMs: start + i * 100,
		stopMs: 2,
		errors: [],
		threads: [
			stack(100, 'qemu-demo', ['main', 'qemu_main_loop', 'ppoll']),
			stack(101, 'CPU 0/KVM', ['kvm_vcpu_thread_fn', 'vcpu_run', i % 10 < 7 ? 'guest_compute' : 'guest_mmio']),
			stack(102, 'worker', ['worker_thread', 'pread64']),
		],
	}));
}

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function setup(effects = {}) {
	const store = new Store({info: {pid: 100, command: 'qemu-demo --vcpus 1', backend: 'mi'}, intervalMs: 100, effects, now: () => 0});
	for (const s of demoSamples(10)) store.ingest(s);
	store.flush();
	const r = render(<App store={store} />);
	cleanup = () => {
		r.unmount();
		store.dispose();
	};
	return {store, ...r};
}

describe('App', () => {
	it('shows the header, every thread and the hot list of the selection', async () => {
		const {lastFrame} = setup();
		await settle();
		const frame = lastFrame()!;
		expect(frame).toContain('PID 100');
		expect(frame).toContain('10 samples');
		for (const name of ['all threads', 'qemu-demo', 'CPU 0/KVM', 'worker']) expect(frame).toContain(name);
		expect(frame).toContain('HOT all threads');
	});

	it('arrow keys and j/k move the selection and the hot list follows', async () => {
		const {stdin, lastFrame} = setup();
		await settle();
		// all threads, then the role groups (all vCPUs, all workers), then each thread by TID.
		let frame = await press(stdin, lastFrame, KEYS.down);
		expect(frame).toContain('HOT all vCPUs');
		frame = await press(stdin, lastFrame, 'j');
		expect(frame).toContain('HOT all workers');
		frame = await press(stdin, lastFrame, 'j');
		expect(frame).toContain('HOT qemu-demo (TID 100)');
		frame = await press(stdin, lastFrame, 'j');
		expect(frame).toContain('HOT CPU 0/KVM (TID 101)');
		expect(frame).toMatch(/70\.0\s+70\.0\s+7\s+7\s+guest_compute/);
		expect(frame).toMatch(/30\.0\s+30\.0\s+3\s+3\s+guest_mmio/);
		frame = await press(stdin, lastFrame, KEYS.up);
		expect(frame).toContain('HOT qemu-demo (TID 100)');
		frame = await press(stdin, lastFrame, KEYS.home);
		expect(frame).toContain('HOT all threads');
	});

	it('q and Ctrl-C ask to quit', async () => {
		let quits = 0;
		const {stdin, lastFrame} = setup({quit: () => quits++});
		await settle();
		stdin.write('q');
		await settle();
		stdin.write(KEYS.ctrlC);
		await settle();
		expect(quits).toBe(2);
		expect(lastFrame()).toBeDefined();
	});

	it('says the terminal is too small instead of drawing garbage', async () => {
		const {store, lastFrame} = setup();
		store.setSize(40, 10);
		await settle();
		expect(lastFrame()).toMatch(/terminal too small \(40x10\)/);
		store.setSize(100, 30);
		await settle();
		expect(lastFrame()).toContain('HOT all threads');
	});
});
