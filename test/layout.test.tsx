// The screen fits the terminal at every size from the documented minimum up, with and without the I/O panel.
import {Text} from 'ink';
import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import App from '../components/App.js';
import {Store} from '../src/app/store.js';
import type {Sample} from '../src/profile/model.js';
import {stack} from './helpers/stacks.js';
import {settle} from './helpers/ink.js';

const samples: Sample[] = Array.from({length: 20}, (_, i) => ({
	atMs: i * 100,
	stopMs: 2,
	errors: [],
	threads: [
		stack(100, 'qemu-demo', ['main', 'qemu_main_loop', 'ppoll']),
		stack(101, 'CPU 0/KVM', ['kvm_vcpu_thread_fn', 'vcpu_run', i % 10 < 7 ? 'guest_compute' : 'guest_mmio']),
		stack(102, 'CPU 1/KVM', ['kvm_vcpu_thread_fn', 'vcpu_run', 'guest_compute']),
		stack(103, 'worker', ['worker_thread', 'pread64']),
		stack(104, 'call_rcu', ['call_rcu_thread', 'qemu_event_wait', 'syscall']),
	],
}));

// A stand-in for the I/O panel: 9 lines, as tall as the real one with a hint.
const panel = () => <Text>{Array.from({length: 9}, (_, i) => `io line ${i}`).join('\n')}</Text>;

describe('layout', () => {
	for (const [columns, rows] of [[60, 12], [60, 18], [80, 24], [100, 30], [100, 40]] as const) {
		it(`${columns}x${rows}: the frame is at most ${rows} lines, header and hot list title visible`, async () => {
			const store = new Store({info: {pid: 100, command: 'qemu-demo', backend: 'mi', notes: ['demo target: pmptop started it and stops it on quit']}, intervalMs: 100});
			for (const s of samples) store.ingest(s);
			store.setSize(columns, rows);
			const r = render(<App store={store} sidePanel={panel} />);
			await settle();
			const lines = (r.lastFrame() ?? '').split('\n');
			expect(lines.length).toBeLessThanOrEqual(rows);
			expect(lines[0]).toContain('pmptop');
			expect(lines.some(l => l.startsWith('HOT '))).toBe(true);
			expect(lines.every(l => l.length <= columns)).toBe(true);
			if (rows >= 30) expect(lines.some(l => l.includes('io line 0'))).toBe(true);
			r.unmount();
			store.dispose();
		});
	}
});
