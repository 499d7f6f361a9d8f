import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {Picker} from '../components/Picker.js';
import type {QemuProcess} from '../src/discover.js';
import {KEYS, press, settle} from './helpers/ink.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

afterEach(() => cleanup());

function qemu(pid: number, extra: Partial<QemuProcess> = {}): QemuProcess {
	return {
		pid, name: `vm${pid}`, debugThreads: false, uptimeS: 3725, startedAtMs: 0, threads: 9, tags: [], virtiofsTags: [], uid: 0, user: 'root',
		comm: 'qemu-system-x86', binary: 'qemu-system-x86_64', matchedBy: ['exe'], argv: ['qemu-system-x86_64', '-name', `vm${pid}`], ...extra,
	};
}

const PROCESSES = [
	qemu(4242, {name: 'nixos-test', user: 'nixbld1', uid: 30001, tags: ['nix-store', 'xchg', 'shared'], threads: 12, nsPid: 7}),
	qemu(5001, {name: 'lab', debugThreads: true, tags: ['hostshare'], uptimeS: 42, threads: 7}),
	qemu(6001, {name: undefined, uptimeS: 200_000, virtiofsTags: ['store'], argv: ['qemu-system-aarch64', '-M', 'virt', '-evil\u001b[2J']}),
];

function setup(processes = PROCESSES) {
	const chosen: number[] = [];
	let cancelled = 0;
	const r = render(<Picker processes={processes} onChoose={pid => chosen.push(pid)} onCancel={() => cancelled++} width={100} />);
	const frame = () => (r.lastFrame() ?? '').replace(ANSI, '');
	const selectedRow = () => frame().split('\n').find(l => l.startsWith('>')) ?? '';
	return {...r, chosen, cancelled: () => cancelled, frame, selectedRow};
}

describe('Picker', () => {
	it('lists PID, user, uptime, threads, name and tags; the first row is selected', () => {
		const {frame, selectedRow} = setup();
		const text = frame();
		expect(text).toContain('pmptop: 3 QEMU processes: choose one');
		expect(text).toMatch(/PID USER\s+UPTIME\s+THR NAME\s+9P TAGS/);
		expect(text).toMatch(/^> +4242\* nixbld1 +1h02m +12 nixos-test +nix-store,xchg,shared/m);
		expect(text).toMatch(/^ +5001 root +42s +7 lab +hostshare/m);
		expect(text).toMatch(/^ +6001 root +2d07h +9 - +virtiofs:store/m);
		expect(selectedRow()).toContain('4242');
		// The selected process's command line and its notes.
		expect(text).toContain('qemu-system-x86_64 -name vm4242');
		expect(text).toContain('debug-threads off: roles come from stacks; *: another PID namespace (PID 7 there)');
		expect(text).toContain('Up/Down j/k move, Enter profiles it, q/Esc cancels');
		for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
	});

	it('Down/j and Up/k move, clamped at both ends; Enter chooses', async () => {
		const {stdin, frame, selectedRow, chosen} = setup();
		await settle();
		await press(stdin, frame, KEYS.down);
		expect(selectedRow()).toContain('5001');
		expect(frame()).toContain('debug-threads on');
		await press(stdin, frame, 'j');
		expect(selectedRow()).toContain('6001');
		// Control characters in the command line never reach the terminal.
		expect(frame()).toContain('qemu-system-aarch64 -M virt -evil[2J');
		expect(frame()).not.toContain('\u001b[2J');
		stdin.write(KEYS.down);
		await settle();
		expect(selectedRow()).toContain('6001');
		await press(stdin, frame, 'k');
		expect(selectedRow()).toContain('5001');
		await press(stdin, frame, KEYS.up);
		expect(selectedRow()).toContain('4242');
		stdin.write(KEYS.up);
		await settle();
		expect(selectedRow()).toContain('4242');
		await press(stdin, frame, KEYS.end);
		expect(selectedRow()).toContain('6001');
		stdin.write(KEYS.enter);
		await settle();
		expect(chosen).toEqual([6001]);
	});

	it('keys faster than renders: j, j, Enter in one burst choose the third', async () => {
		const {stdin, chosen} = setup();
		await settle();
		stdin.write('j');
		stdin.write('j');
		stdin.write(KEYS.enter);
		await settle();
		expect(chosen).toEqual([6001]);
	});

	it('q and Esc cancel without choosing', async () => {
		const a = setup();
		await settle();
		a.stdin.write('q');
		await settle();
		expect(a.cancelled()).toBe(1);
		expect(a.chosen).toEqual([]);
		cleanup();
		const b = setup();
		await settle();
		b.stdin.write(KEYS.escape);
		await settle(100);
		expect(b.cancelled()).toBe(1);
		expect(b.chosen).toEqual([]);
	});

	it('an empty list says so; Enter does nothing, q cancels', async () => {
		const {stdin, frame, chosen, cancelled} = setup([]);
		expect(frame()).toContain('pmptop: no QEMU process found');
		await settle();
		stdin.write(KEYS.enter);
		stdin.write(KEYS.down);
		await settle();
		expect(chosen).toEqual([]);
		stdin.write('q');
		await settle();
		expect(cancelled()).toBe(1);
	});

	it('fits a narrow terminal', () => {
		const chosen: number[] = [];
		const r = render(<Picker processes={PROCESSES} onChoose={pid => chosen.push(pid)} onCancel={() => {}} width={60} />);
		const text = (r.lastFrame() ?? '').replace(ANSI, '');
		for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
		expect(text).toMatch(/^> +4242\* nixbld1/m);
	});
});
