import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {Ajv} from 'ajv';
import {describe, expect, it} from 'vitest';
import {foldedName, renderFolded} from '../src/export/folded.js';
import {buildReport, type Report} from '../src/export/report.js';
import {renderSnapshot, snapshotBaseName, snapshotSeries, type SnapshotInput} from '../src/export/snapshot.js';
import {speedscopeDocument, type SpeedscopeFile} from '../src/export/speedscope.js';
import {Profile, type WindowSpec} from '../src/profile/aggregate.js';
import type {Frame, Sample, ThreadStack} from '../src/profile/model.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const fn = (func: string, where?: string): Frame => (where?.startsWith('/') ? {func, lib: where} : {func, file: where});
/** A thread stack from root-to-leaf frames, the way people read them. */
const stack = (tid: number, name: string, rootToLeaf: Frame[]): ThreadStack => ({tid, name, frames: [...rootToLeaf].reverse()});
const sample = (atMs: number, threads: ThreadStack[]): Sample => ({atMs, stopMs: 2, threads, errors: []});

const MAIN = [fn('main', 'system/main.c'), fn('qemu_main_loop', 'system/runstate.c'), fn('qemu_poll_ns', 'util/qemu-timer.c'), fn('ppoll', LIBC)];
const VCPU = [fn('start_thread', LIBC), fn('qemu_thread_start', 'util/qemu-thread-posix.c'), fn('kvm_vcpu_thread_fn', 'accel/kvm/kvm-accel-ops.c'), fn('kvm_cpu_exec', 'accel/kvm/kvm-all.c')];
const IOCTL = [...VCPU, fn('ioctl', LIBC)];
const MMIO = [...VCPU, fn('address_space_rw', 'system/physmem.c'), fn('memory_region_dispatch_write', 'system/memory.c')];
/** A 9p worker whose name and one frame carry the folded separator. */
const WORKER = [fn('start_thread', LIBC), fn('worker_thread', 'util/thread-pool.c'), fn('v9fs_co_run_in_worker;cb', 'hw/9pfs/cofile.c'), fn('pread64', LIBC)];

/** Ten samples: main polls; the vCPU is in KVM_RUN 7 times and in MMIO 3 times; a worker appears twice. */
function fixedProfile(): Profile {
	const p = new Profile();
	for (let i = 0; i < 10; i++) {
		const threads = [stack(4242, 'qemu-system-x86', MAIN), stack(4243, 'CPU 0/KVM', i % 10 < 7 ? IOCTL : MMIO)];
		if (i === 4 || i === 5) threads.push(stack(4250, 'worker;9p', WORKER));
		p.ingest(sample(1_000 + i * 200, threads));
	}
	return p;
}

function fixedReport(p: Profile, window: WindowSpec = 'all'): Report {
	return buildReport(p, {
		pid: 4242,
		command: 'qemu-system-x86_64 -m 1G -virtfs local,path=/nix/store,mount_tag=store',
		backend: 'mi',
		window,
		windowLabel: 'whole run',
		intervalMs: 200,
		top: 3,
		stop: {lastMs: 3.2, medianMs: 2.9, p95Ms: 4, dutyPct: 1.45},
		roleOf: tid => ({4242: 'main', 4243: 'vcpu', 4250: 'worker'})[tid],
		takenAtMs: Date.UTC(2026, 11, 1, 12, 0, 0),
		extra: {io: 'I/O: read 1.2 MB/s (310 reads/s), write 0 B/s; 9p workers 1.1 MB/s, 3.6 KB/read', view: {not: 'text'}},
	});
}

function input(overrides: Partial<SnapshotInput> = {}): SnapshotInput {
	const profile = overrides.profile ?? fixedProfile();
	return {profile, window: 'all', threads: 'all', report: fixedReport(profile), version: '0.1.0', ...overrides};
}

/** Parse folded text: thread label, root-first frames, count (the count is after the last space). */
function parseFolded(text: string): Array<{thread: string; frames: string[]; count: number}> {
	expect(text.endsWith('\n')).toBe(true);
	return text.slice(0, -1).split('\n').map(line => {
		const m = /^(.*) (\d+)$/.exec(line);
		expect(m, line).not.toBeNull();
		const [thread, ...frames] = m![1]!.split(';');
		return {thread: thread!, frames, count: Number(m![2])};
	});
}

const EXPECTED_FOLDED = `\
qemu-system-x86 (TID 4242);main (main.c);qemu_main_loop (runstate.c);qemu_poll_ns (qemu-timer.c);ppoll (libc.so.6) 10
CPU 0/KVM (TID 4243);start_thread (libc.so.6);qemu_thread_start (qemu-thread-posix.c);kvm_vcpu_thread_fn (kvm-accel-ops.c);kvm_cpu_exec (kvm-all.c);address_space_rw (physmem.c);memory_region_dispatch_write (memory.c) 3
CPU 0/KVM (TID 4243);start_thread (libc.so.6);qemu_thread_start (qemu-thread-posix.c);kvm_vcpu_thread_fn (kvm-accel-ops.c);kvm_cpu_exec (kvm-all.c);ioctl (libc.so.6) 7
worker:9p (TID 4250);start_thread (libc.so.6);worker_thread (thread-pool.c);v9fs_co_run_in_worker:cb (cofile.c);pread64 (libc.so.6) 2
`;

const EXPECTED_TXT = `\
pmptop report for PID 4242: qemu-system-x86_64 -m 1G -virtfs local,path=/nix/store,mount_tag=store
taken 2026-12-01T12:00:00.000Z  backend mi  samples 10  interval 200 ms  window whole run
stop per sample: last 3.20 ms, median 2.90 ms, p95 4.00 ms; duty cycle 1.45%
I/O: read 1.2 MB/s (310 reads/s), write 0 B/s; 9p workers 1.1 MB/s, 3.6 KB/read

all threads: 22 samples, 100.0% busy
  OWN%  TOTAL%     OWN   TOTAL  FUNCTION (WHERE)
  45.5    45.5      10      10  ppoll (libc.so.6)
  31.8    31.8       7       7  ioctl (libc.so.6)
  13.6    13.6       3       3  memory_region_dispatch_write (memory.c)

thread qemu-system-x86 (TID 4242) role main: 10 samples, 100.0% busy
  OWN%  TOTAL%     OWN   TOTAL  FUNCTION (WHERE)
 100.0   100.0      10      10  ppoll (libc.so.6)
   0.0   100.0       0      10  main (main.c)
   0.0   100.0       0      10  qemu_main_loop (runstate.c)

thread CPU 0/KVM (TID 4243) role vcpu: 10 samples, 100.0% busy
  OWN%  TOTAL%     OWN   TOTAL  FUNCTION (WHERE)
  70.0    70.0       7       7  ioctl (libc.so.6)
  30.0    30.0       3       3  memory_region_dispatch_write (memory.c)
   0.0   100.0       0      10  kvm_cpu_exec (kvm-all.c)

thread worker;9p (TID 4250) role worker [exited]: 2 samples, 100.0% busy
  OWN%  TOTAL%     OWN   TOTAL  FUNCTION (WHERE)
 100.0   100.0       2       2  pread64 (libc.so.6)
   0.0   100.0       0       2  start_thread (libc.so.6)
   0.0   100.0       0       2  v9fs_co_run_in_worker;cb (cofile.c)
`;

describe('renderSnapshot', () => {
	it('renders the fixed profile to exactly the expected .folded and .txt', () => {
		const files = renderSnapshot(input());
		expect(files.folded).toBe(EXPECTED_FOLDED);
		expect(files.txt).toBe(EXPECTED_TXT);
	});

	it('writes folded lines root first, and per thread their counts sum to its samples in the window', () => {
		const profile = fixedProfile();
		// Keep sampling past the 10 s window so the window and the whole run differ.
		for (let i = 0; i < 5; i++) profile.ingest(sample(20_000 + i * 200, [stack(4243, 'CPU 0/KVM', MMIO)]));
		for (const window of ['all', 10_000, 60_000] as const) {
			const lines = parseFolded(renderSnapshot(input({profile, window, report: fixedReport(profile, window)})).folded);
			const sums = new Map<string, number>();
			for (const line of lines) sums.set(line.thread, (sums.get(line.thread) ?? 0) + line.count);
			const expected = new Map(profile.threads()
				.filter(s => profile.counts(s.key, window)!.samples > 0)
				.map(s => [foldedName(`${s.name} (TID ${s.key.slice(4)})`), profile.counts(s.key, window)!.samples]));
			expect(sums).toEqual(expected);
			for (const line of lines) {
				if (line.thread.startsWith('CPU 0/KVM')) expect(line.frames.slice(0, 2)).toEqual(['start_thread (libc.so.6)', 'qemu_thread_start (qemu-thread-posix.c)']);
				if (line.thread.startsWith('qemu-system-x86')) expect(line.frames[0]).toBe('main (main.c)');
			}
		}
		expect(parseFolded(renderSnapshot(input({profile, window: 10_000})).folded)).toEqual([
			{thread: 'CPU 0/KVM (TID 4243)', frames: [...MMIO.map(f => `${f.func} (${f.file?.split('/').pop() ?? 'libc.so.6'})`)], count: 5},
		]);
	});

	it('keeps every line parseable whatever the names: separators and line breaks are replaced', () => {
		const p = new Profile();
		p.ingest(sample(0, [
			stack(1, 'a;b\nc', [fn('x;y', 'lib;dir/f;g.c'), fn('line\nbreak\r\u2028', LIBC), fn('', LIBC)]),
			stack(2, 'empty', []),
		]));
		const text = renderSnapshot(input({profile: p, report: fixedReport(p)})).folded;
		expect(text).toBe('a:bc (TID 1);x:y (f:g.c);linebreak (libc.so.6);?? (libc.so.6) 1\nempty (TID 2) 1\n');
		expect(foldedName('a;b\nc\td')).toBe('a:b c d');
		expect(foldedName(' ; ')).toBe(':');
		expect(foldedName('')).toBe('??');
	});

	it('writes only the selected series when one is chosen, in all three files', () => {
		const files = renderSnapshot(input({threads: 'tid:4243'}));
		expect(parseFolded(files.folded).map(l => [l.thread, l.count])).toEqual([['CPU 0/KVM (TID 4243)', 3], ['CPU 0/KVM (TID 4243)', 7]]);
		const doc = JSON.parse(files.speedscope) as SpeedscopeFile;
		expect(doc.profiles.map(p => p.name)).toEqual(['CPU 0/KVM (TID 4243)']);
		expect(files.txt).toContain('thread CPU 0/KVM (TID 4243) role vcpu: 10 samples');
		expect(files.txt).not.toContain('all threads:');
		expect(files.txt).not.toContain('TID 4242');
		// An unknown key gives empty stacks, not an exception.
		expect(renderSnapshot(input({threads: 'tid:1'})).folded).toBe('');
	});

	it('writes a role group as one series named as the report names it', () => {
		const p = new Profile({groupsOf: (_tid, name) => (name.startsWith('CPU ') ? ['role:vcpu'] : [])});
		for (let i = 0; i < 3; i++) p.ingest(sample(i, [stack(4242, 'main', MAIN), stack(4243, 'CPU 0/KVM', IOCTL), stack(4244, 'CPU 1/KVM', MMIO)]));
		const report = fixedReport(p);
		const label = report.groups?.find(g => g.key === 'role:vcpu')?.name ?? 'role:vcpu';
		const lines = parseFolded(renderSnapshot(input({profile: p, report, threads: 'role:vcpu'})).folded);
		expect(lines.map(l => [l.thread, l.count])).toEqual([[label, 3], [label, 3]]);
		// 'all' never lists groups: every thread once.
		expect(snapshotSeries(p, 'all', 'all').map(s => s.key)).toEqual(['tid:4242', 'tid:4243', 'tid:4244']);
	});

	it('leaves idle stacks out when asked to', () => {
		const p = new Profile({classify: frames => (frames[0]?.func === 'ppoll' ? 'idle' : 'running')});
		for (let i = 0; i < 4; i++) p.ingest(sample(i, [stack(4242, 'main', MAIN), stack(4243, 'CPU 0/KVM', IOCTL)]));
		expect(snapshotSeries(p, 'all', 'all', true).map(s => [s.label, s.samples])).toEqual([['CPU 0/KVM (TID 4243)', 4]]);
		expect(snapshotSeries(p, 'all', 'all').map(s => [s.label, s.samples])).toEqual([['main (TID 4242)', 4], ['CPU 0/KVM (TID 4243)', 4]]);
	});
});

describe('speedscope', () => {
	const require = createRequire(import.meta.url);
	const schemaPath = require.resolve('speedscope/dist/release/file-format-schema.json');
	const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as {$schema: string};
	const speedscopeVersion = (JSON.parse(readFileSync(require.resolve('speedscope/package.json'), 'utf8')) as {version: string}).version;

	it('validates against the schema shipped in the speedscope package (draft-07, checked with ajv)', () => {
		expect(speedscopeVersion).toBe('1.25.0');
		// The schema declares draft-07, which Ajv's default class implements (Ajv2019/2020 are for later drafts).
		expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
		const ajv = new Ajv({allErrors: true, strict: false});
		const validate = ajv.compile(schema);
		const doc: unknown = JSON.parse(renderSnapshot(input()).speedscope);
		expect(validate(doc), ajv.errorsText(validate.errors)).toBe(true);
		// The validator does reject what speedscope would reject.
		expect(validate({...(doc as object), profiles: [{type: 'sampled', name: 'x', unit: 'ticks', startValue: 0, endValue: 1, samples: [[0]], weights: [1]}]})).toBe(false);
		expect(validate({...(doc as object), $schema: 'https://example.com/'})).toBe(false);
	});

	it('has one profile per thread, equal-length samples and weights, frame indices in range, root first', () => {
		const doc = JSON.parse(renderSnapshot(input()).speedscope) as SpeedscopeFile;
		expect(doc).toMatchObject({
			$schema: 'https://www.speedscope.app/file-format-schema.json',
			exporter: 'pmptop@0.1.0',
			name: 'pmptop PID 4242: qemu-system-x86_64 -m 1G -virtfs local,path=/nix/store,mount_tag=store (window whole run)',
		});
		expect(doc.profiles.map(p => p.name)).toEqual(['qemu-system-x86 (TID 4242)', 'CPU 0/KVM (TID 4243)', 'worker;9p (TID 4250)']);
		const frames = doc.shared.frames;
		// De-duplicated: start_thread and ioctl/pread64 of libc appear once though several threads use them.
		expect(new Set(frames.map(f => JSON.stringify(f))).size).toBe(frames.length);
		expect(frames.filter(f => f.name === 'start_thread')).toEqual([{name: 'start_thread', file: 'libc.so.6'}]);
		expect(frames).toContainEqual({name: 'v9fs_co_run_in_worker;cb', file: 'cofile.c'});
		for (const p of doc.profiles) {
			expect(p).toMatchObject({type: 'sampled', unit: 'none', startValue: 0});
			expect(p.samples.length).toBe(p.weights.length);
			expect(p.endValue).toBe(p.weights.reduce((a, b) => a + b, 0));
			for (const s of p.samples) for (const i of s) expect(Number.isInteger(i) && i >= 0 && i < frames.length).toBe(true);
		}
		const vcpu = doc.profiles[1]!;
		expect(vcpu.endValue).toBe(10);
		expect(vcpu.samples.map(s => s.map(i => frames[i]!.name))).toEqual([MMIO.map(f => f.func), IOCTL.map(f => f.func)]);
		expect(vcpu.weights).toEqual([3, 7]);
	});

	it('gives a stack without frames a placeholder frame and an empty profile list still validates', () => {
		const p = new Profile();
		p.ingest(sample(0, [stack(7, 'bare', [])]));
		const doc = speedscopeDocument(snapshotSeries(p, 'all', 'all'), p.frames, {name: 'n', exporter: 'pmptop@0'});
		expect(doc.profiles[0]).toMatchObject({samples: [[0]], weights: [1], endValue: 1});
		expect(doc.shared.frames).toEqual([{name: '(no frames)'}]);
		const validate = new Ajv({strict: false}).compile(schema);
		expect(validate(doc)).toBe(true);
		expect(validate(speedscopeDocument([], [], {name: 'n', exporter: 'pmptop@0'}))).toBe(true);
		expect(renderFolded([], [])).toBe('');
	});
});

describe('snapshotBaseName', () => {
	it('is pmptop-<pid>-<YYYYmmdd-HHMMSS> in local time', () => {
		expect(snapshotBaseName(4242, new Date(2026, 11, 1, 9, 5, 7))).toBe('pmptop-4242-20261201-090507');
		expect(snapshotBaseName(1, new Date(2027, 0, 31, 23, 59, 59))).toBe('pmptop-1-20270131-235959');
	});
});
