// Every key in the help does what it says, driven through the real App with ink-testing-library.
import {render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import App from '../components/App.js';
import {helpRows} from '../src/app/keymap.js';
import {Store} from '../src/app/store.js';
import type {Sample} from '../src/profile/model.js';
import {stack} from './helpers/stacks.js';
import {KEYS, press, settle} from './helpers/ink.js';


function samples(n: number, from = 0): Sample[] {
	return Array.from({length: n}, (_, i) => ({
		atMs: from + i * 100,
		stopMs: 2,
		errors: [],
		threads: [
			stack(100, 'qemu-demo', ['main', 'qemu_main_loop', 'qemu_poll_ns', 'ppoll']),
			stack(101, 'CPU 0/KVM', ['kvm_vcpu_thread_fn', 'vcpu_run', i % 10 < 7 ? 'guest_compute' : 'guest_mmio']),
			stack(102, 'worker', ['worker_thread', 'pread64']),
		],
	}));
}

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function setup() {
	const calls = {quit: 0, snapshot: 0, intervals: [] as number[]};
	const store = new Store({
		info: {pid: 100, command: 'qemu-demo', backend: 'mi'},
		intervalMs: 200,
		refreshMs: 300,
		effects: {quit: () => calls.quit++, snapshot: () => calls.snapshot++, setIntervalMs: ms => calls.intervals.push(ms)},
	});
	for (const s of samples(20)) store.ingest(s);
	store.flush();
	const r = render(<App store={store} />);
	cleanup = () => {
		r.unmount();
		store.dispose();
	};
	const key = (input: string) => press(r.stdin, r.lastFrame, input);
	return {store, calls, key, frame: () => r.lastFrame() ?? ''};
}

const selectCpu0 = async (key: (s: string) => Promise<string>) => {
	await key(KEYS.end);
	return key(KEYS.up);
};

describe('keys', () => {
	it('the help overlay lists every binding and any key closes it', async () => {
		const {key} = setup();
		await settle();
		const help = await key('?');
		for (const row of helpRows()) expect(help).toContain(row.keys);
		expect(help).toContain('press any key to close');
		expect(await key('x')).toContain('HOT all threads');
	});

	it('Up/Down, j/k, PgUp/PgDn, Home/End move the selection', async () => {
		const {key} = setup();
		await settle();
		expect(await key(KEYS.end)).toContain('HOT worker (TID 102)');
		expect(await key('k')).toContain('HOT CPU 0/KVM (TID 101)');
		expect(await key(KEYS.pageUp)).toContain('HOT all threads');
		expect(await key(KEYS.pageDown)).toContain('HOT worker (TID 102)');
		expect(await key(KEYS.home)).toContain('HOT all threads');
		expect(await key(KEYS.down)).toContain('HOT all vCPUs');
		expect(await key('j')).toContain('HOT all workers');
	});

	it('keys typed in one burst ("jjj") each count', async () => {
		const {key} = setup();
		await settle();
		expect(await key('jjj')).toContain('HOT qemu-demo (TID 100)');
		await key('/');
		await key('guestx');
		expect(await key('\u007f\u007f')).toContain('/gues');
	});

	it('Tab and Left/Right switch focus: then Up/Down move in the hot list', async () => {
		const {key, store} = setup();
		await settle();
		await selectCpu0(key);
		await key(KEYS.tab);
		expect(store.flush().focus).toBe('hot');
		await key(KEYS.down);
		expect(store.flush().hot.cursor).toBe(1);
		expect(store.flush().hot.title).toBe('CPU 0/KVM (TID 101)');
		await key(KEYS.left);
		expect(store.flush().focus).toBe('threads');
		await key(KEYS.right);
		expect(store.flush().focus).toBe('hot');
	});

	it('Enter shows only the selected thread\'s hot list; again goes back; a returns to all threads', async () => {
		const {key} = setup();
		await settle();
		await selectCpu0(key);
		const zoomed = await key(KEYS.enter);
		expect(zoomed).toContain('HOT CPU 0/KVM (TID 101)');
		expect(zoomed).not.toContain('TOP FRAME');
		expect(await key(KEYS.enter)).toContain('TOP FRAME');
		expect(await key('a')).toContain('HOT all threads');
	});

	it('1..4 sort by own %, total %, own count, total count and mark the sorted column', async () => {
		const {key, store} = setup();
		await settle();
		expect(await key('2')).toMatch(/TOTAL%▼/);
		expect(store.flush().hot.rows[0]!.totalShare).toBe(Math.max(...store.flush().hot.rows.map(r => r.totalShare)));
		expect(await key('3')).toMatch(/OWN▼/);
		expect(await key('4')).toMatch(/TOTAL▼/);
		expect(await key('1')).toMatch(/OWN%▼/);
	});

	it('p and Space pause the view while samples keep arriving; resume catches up', async () => {
		const {key, store, frame} = setup();
		await settle();
		await selectCpu0(key);
		const before = store.flush().hot.rows.map(r => [r.func, r.own]);
		expect(await key('p')).toContain('PAUSED');
		for (const s of samples(30, 2000)) store.ingest(s);
		await settle(400); // new samples redraw at most once per refreshMs (300 here)
		expect(store.flush().hot.rows.map(r => [r.func, r.own])).toEqual(before);
		expect(frame()).toContain('50 samples'); // the header still counts: sampling goes on
		expect(await key(' ')).not.toContain('PAUSED');
		const after = store.flush().hot.rows.find(r => r.func === 'guest_compute')!;
		expect(after.own).toBe(35);
	});

	it('r resets the counters', async () => {
		const {key, store} = setup();
		await settle();
		await key('r');
		expect(store.flush().header.samples).toBe(0);
		expect(store.flush().hot.rows).toEqual([]);
	});

	it('w cycles the window 10 s -> 60 s -> whole run', async () => {
		const {key} = setup();
		await settle();
		expect(await key('w')).toContain('window 60 s');
		expect(await key('w')).toContain('window whole run');
		expect(await key('w')).toContain('window 10 s');
	});

	it('+ and - change the sampling interval live', async () => {
		const {key, calls} = setup();
		await settle();
		expect(await key('+')).toContain('every 100 ms');
		expect(await key('-')).toContain('every 200 ms');
		expect(await key('-')).toContain('every 400 ms');
		expect(calls.intervals).toEqual([100, 200, 400]);
	});

	it('i hides idle samples: the waiting main thread no longer hides the working vCPU', async () => {
		const {key, store} = setup();
		await settle();
		expect(store.flush().hot.rows.some(r => r.func === 'ppoll' && r.own > 0)).toBe(true);
		expect(await key('i')).toContain('idle hidden');
		const rows = store.flush().hot.rows;
		expect(rows.find(r => r.func === 'ppoll')).toBeUndefined();
		expect(rows.find(r => r.func === 'guest_compute')!.ownShare).toBeCloseTo(14 / 40);
		await key('i');
		expect(store.flush().hot.rows.some(r => r.func === 'ppoll')).toBe(true);
	});

	it('/ filters functions by substring, Enter keeps it, Esc clears it', async () => {
		const {key, store} = setup();
		await settle();
		await key('/');
		for (const c of 'guest') await key(c);
		expect(store.flush().hot.rows.map(r => r.func).sort()).toEqual(['guest_compute', 'guest_mmio']);
		expect(await key(KEYS.enter)).toContain('filter "guest"');
		expect(store.flush().mode).toBe('normal');
		await key(KEYS.escape);
		expect(store.flush().hot.filter).toBe('');
		expect(store.flush().hot.rows.length).toBeGreaterThan(2);
	});

	it('m marks a baseline and shows changes; s asks for a snapshot; q and Ctrl-C quit', async () => {
		const {key, calls} = setup();
		await settle();
		expect(await key('m')).toContain('Δ since mark');
		expect(await key('m')).not.toContain('Δ since mark');
		await key('s');
		expect(calls.snapshot).toBe(1);
		await key('q');
		await key(KEYS.ctrlC);
		expect(calls.quit).toBe(2);
	});
});

describe('redraw bound', () => {
	it('new samples publish a view at most once per refreshMs; a key publishes at once', async () => {
		const store = new Store({info: {pid: 100, command: 'qemu-demo', backend: 'mi'}, intervalMs: 100, refreshMs: 300});
		let views = 0;
		store.subscribe(() => views++);
		try {
			const stream = samples(40);
			for (const s of stream.slice(0, 10)) store.ingest(s);
			await settle(100);
			expect(views).toBe(1); // the first batch after an idle gap redraws at once
			for (const s of stream.slice(10, 30)) store.ingest(s);
			await settle(100);
			expect(views).toBe(1); // within 300 ms of the last redraw: held back
			await settle(250);
			expect(views).toBe(2); // then one redraw for all 20
			expect(store.getSnapshot().header.samples).toBe(30);
			store.dispatch({type: 'toggle-pause'});
			expect(views).toBeGreaterThanOrEqual(3); // keys do not wait
		} finally {
			store.dispose();
		}
	});
});
