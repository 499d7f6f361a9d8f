import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {parseBatchBacktrace, parseFrameLine, parseThreadHeader} from '../src/gdb/batch-parse.js';
import type {ThreadStack} from '../src/profile/model.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);
const LOCAL = new URL('fixtures/batch/', import.meta.url);

function fixture(name: string, base = FIXTURES): string {
	return readFileSync(new URL(name, base), 'utf8');
}

const funcs = (t: ThreadStack) => t.frames.map(f => f.func);

// Thread ids and names, in gdb's order, checked by hand against each file.
const NAMED_6 = [[17673, 'worker'], [17666, 'worker'], [17462, 'CPU 1/TCG'], [17461, 'CPU 0/TCG'],
	[17460, 'qemu-system-x86'], [17455, 'qemu-system-x86']];
const NAMED_7 = [[17736, 'worker'], ...NAMED_6];
const DEFAULT_6 = [18738, 18723, 18584, 18583, 18582, 18577].map(tid => [tid, 'qemu-system-x86']);
const DEFAULT_7 = [[18815, 'qemu-system-x86'], ...DEFAULT_6];

const EXPECTED: Record<string, (string | number)[][]> = {
	'named-gdb-batch-1.txt': NAMED_6,
	'named-gdb-batch-2.txt': NAMED_7,
	'named-gdb-batch-3.txt': NAMED_7,
	'default-gdb-batch-1.txt': DEFAULT_6,
	'default-gdb-batch-2.txt': DEFAULT_6,
	'default-gdb-batch-3.txt': DEFAULT_7,
	'default-gdb-batch-nodebuginfo.txt': DEFAULT_7,
};

describe('parseBatchBacktrace on the QEMU fixtures', () => {
	for (const [file, threads] of Object.entries(EXPECTED)) {
		it(`${file}: every thread with its TID and name, every frame`, () => {
			const text = fixture(file);
			const parsed = parseBatchBacktrace(text);
			expect(parsed.map(t => [t.tid, t.name])).toEqual(threads);
			// Each `#N` line is one frame, numbered from 0 per thread.
			const frameLines = text.split('\n').filter(l => /^#\d+ /.test(l));
			expect(parsed.reduce((n, t) => n + t.frames.length, 0)).toBe(frameLines.length);
			for (const t of parsed) expect(t.frames.length).toBeGreaterThan(0);
			// No argument values, only the model's fields.
			for (const frame of parsed.flatMap(t => t.frames)) {
				expect(Object.keys(frame).every(k => ['func', 'file', 'line', 'lib', 'addr'].includes(k))).toBe(true);
				expect(frame.func).toMatch(/^(?:\?\?|[\w.]+)$/);
				if (frame.addr !== undefined) expect(frame.addr).toMatch(/^0x[0-9a-f]{16}$/);
				if (frame.line !== undefined) expect(Number.isInteger(frame.line)).toBe(true);
			}
		});
	}

	it('named-gdb-batch-1.txt: leaf and root frames, with file, line, address', () => {
		const [worker, , cpu1, , rcu, main] = parseBatchBacktrace(fixture('named-gdb-batch-1.txt'));
		expect(worker!.frames[0]).toEqual({func: '__futex_abstimed_wait_common64', file: './nptl/futex-internal.c', line: 57});
		expect(worker!.frames[4]).toEqual({func: '___pthread_cond_timedwait64', file: './nptl/pthread_cond_wait.c', line: 643});
		expect(worker!.frames[5]).toEqual({func: '??', addr: '0x000055700865b2d1'});
		expect(worker!.frames[6]).toEqual({func: 'qemu_cond_timedwait_impl', addr: '0x000055700865be70'});
		expect(worker!.frames.at(-1)).toEqual({func: 'clone3', file: '../sysdeps/unix/sysv/linux/x86_64/clone3.S', line: 81, addr: '0x00007f4d201758ec'});
		expect(cpu1!.frames[7]).toEqual({func: '??', lib: '/usr/bin/../lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so', addr: '0x00007f4d214a7b56'});
		expect(funcs(rcu!)).toEqual(['syscall', 'qemu_event_wait', '??', '??', 'start_thread', 'clone3']);
		expect(funcs(main!)).toEqual(['__ppoll', 'qemu_poll_ns', 'main_loop_wait', 'qemu_main_loop', 'qemu_default_main',
			'__libc_start_call_main', '__libc_start_main_impl', '_start']);
		expect(main!.frames[0]).toEqual({func: '__ppoll', file: '../sysdeps/unix/sysv/linux/ppoll.c', line: 42, addr: '0x00007f4d20168366'});
		expect(main!.frames[5]).toEqual({func: '__libc_start_call_main', file: '../sysdeps/nptl/libc_start_call_main.h', line: 58, addr: '0x00007f4d2009324a'});
	});

	it('named-gdb-batch-3.txt: a vCPU inside TCG code waiting for the BQL', () => {
		const cpu0 = parseBatchBacktrace(fixture('named-gdb-batch-3.txt')).find(t => t.tid === 17461)!;
		expect(funcs(cpu0)).toEqual(['futex_wait', '__GI___lll_lock_wait', 'lll_mutex_lock_optimized', '___pthread_mutex_lock',
			'qemu_mutex_lock_impl', 'qemu_mutex_lock_iothread_impl', '??', '??', 'code_gen_buffer', '??', 'cpu_exec',
			'tcg_cpus_exec', '??', '??', 'start_thread', 'clone3']);
		expect(cpu0.frames[0]).toEqual({func: 'futex_wait', file: '../sysdeps/nptl/futex-internal.h', line: 146});
		expect(cpu0.frames[11]!.lib).toBe('/usr/bin/../lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so');
	});

	it('default-gdb-batch-nodebuginfo.txt: libc frames carry their library, not a file', () => {
		const threads = parseBatchBacktrace(fixture('default-gdb-batch-nodebuginfo.txt'));
		const worker = threads[0]!;
		expect(worker.frames[0]).toEqual({func: '??', lib: '/lib/x86_64-linux-gnu/libc.so.6', addr: '0x00007fb8ff10bf16'});
		expect(worker.frames[1]).toEqual({func: 'pthread_cond_timedwait', lib: '/lib/x86_64-linux-gnu/libc.so.6', addr: '0x00007fb8ff10e8bc'});
		expect(worker.frames[2]).toEqual({func: '??', addr: '0x000055d5b5d542d1'});
		const main = threads.find(t => t.tid === 18577)!;
		expect(main.frames[0]).toEqual({func: 'ppoll', lib: '/lib/x86_64-linux-gnu/libc.so.6', addr: '0x00007fb8ff182366'});
		expect(main.frames[6]).toEqual({func: '__libc_start_main', lib: '/lib/x86_64-linux-gnu/libc.so.6', addr: '0x00007fb8ff0ad305'});
		expect(main.frames[7]).toEqual({func: '_start', addr: '0x000055d5b57f6e51'});
		const cpu = threads.find(t => t.tid === 18583)!;
		expect(funcs(cpu)).toEqual(['??', '??', 'qemu_mutex_unlock_impl', '??', 'code_gen_buffer', '??', 'cpu_exec',
			'tcg_cpus_exec', '??', '??', '??', '??']);
		// No frame of this capture has source info.
		expect(threads.flatMap(t => t.frames).some(f => f.file !== undefined)).toBe(false);
		const libFrames = threads.flatMap(t => t.frames).filter(f => f.lib);
		expect(new Set(libFrames.map(f => f.lib))).toEqual(new Set([
			'/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/../lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so']));
	});
});

describe('parseBatchBacktrace on the demo target (test/fixtures/batch, captured with gdb 13)', () => {
	it('demo-named.txt: named threads, args with <symbol> values', () => {
		const threads = parseBatchBacktrace(fixture('demo-named.txt', LOCAL));
		expect(threads.map(t => t.name)).toEqual(['call_rcu', 'worker', 'worker', 'CPU 1/KVM', 'CPU 0/KVM', 'qemu-demo']);
		expect(threads[0]!.frames[1]).toEqual({func: 'qemu_event_wait', file: 'qemu-demo.c', line: 214, addr: '0x0000561e0aebc1bd'});
		expect(funcs(threads[4]!)).toEqual(['guest_compute', 'vcpu_run', 'kvm_cpu_exec', 'kvm_vcpu_thread_fn',
			'qemu_thread_start', 'start_thread', 'clone3']);
		expect(funcs(threads[5]!).at(-1)).toBe('main');
	});

	it('demo-unnamed-escape.txt: control characters are removed from a hostile thread name', () => {
		const threads = parseBatchBacktrace(fixture('demo-unnamed-escape.txt', LOCAL));
		expect(threads.map(t => t.tid)).toEqual([5173, 5172, 5171, 5170, 5169, 5168, 5160]);
		expect(threads[0]!.name).toBe('[2Jevil');
		expect(threads.slice(1).every(t => t.name === 'qemu-demo')).toBe(true);
		// The vDSO frame has neither file nor library.
		expect(threads[4]!.frames[0]).toEqual({func: 'clock_gettime', addr: '0x00007fae344c3b46'});
		expect(threads[2]!.frames.slice(0, 3).map(f => f.func)).toEqual(['__libc_pread64', '__libc_pread64', 'worker_do_pread']);
	});

	it('demo-no-libthread-db.txt: `Thread N (LWP n "name"):` headers', () => {
		const text = fixture('demo-no-libthread-db.txt', LOCAL);
		expect(text).toContain('Thread 6 (LWP 5172 "qemu-demo"):');
		const threads = parseBatchBacktrace(text);
		expect(threads.map(t => [t.tid, t.name])).toEqual([[5173, '[2Jevil'], [5172, 'qemu-demo'], [5171, 'qemu-demo'],
			[5170, 'qemu-demo'], [5169, 'qemu-demo'], [5168, 'qemu-demo'], [5160, 'qemu-demo']]);
		expect(funcs(threads[1]!)).toEqual(['syscall', 'qemu_event_wait', 'call_rcu_thread', 'qemu_thread_start', 'start_thread', 'clone3']);
	});
});

describe('parseThreadHeader', () => {
	it.each([
		['Thread 6 (Thread 0x7f4c87fff6c0 (LWP 17673) "worker"):', {gdbId: 6, tid: 17673, name: 'worker'}],
		['Thread 4 (Thread 0x7f4d1e33a6c0 (LWP 17462) "CPU 1/TCG"):', {gdbId: 4, tid: 17462, name: 'CPU 1/TCG'}],
		['Thread 2 (LWP 123 "x"):', {gdbId: 2, tid: 123, name: 'x'}],
		['Thread 3 (LWP 9 "ALL CPUs/TCG"):', {gdbId: 3, tid: 9, name: 'ALL CPUs/TCG'}],
		['Thread 5 (Thread 0x7f00 (LWP 77) "say "hi" (x)"):', {gdbId: 5, tid: 77, name: 'say "hi" (x)'}],
		['Thread 5 (Thread 0x7f00 (LWP 77) "worker" (Zombie)):', {gdbId: 5, tid: 77, name: 'worker'}],
		['Thread 1 (Thread 0x7f00 (LWP 1)):', {gdbId: 1, tid: 1, name: ''}],
		['Thread 1 (process 4242 "solo"):', {gdbId: 1, tid: 4242, name: 'solo'}],
		['Thread 1 (LWP 8 "a\u001b[2Jb\u0007"):', {gdbId: 1, tid: 8, name: 'a[2Jb'}],
	])('%s', (line, expected) => {
		expect(parseThreadHeader(line)).toEqual(expected);
	});

	it('rejects other lines', () => {
		expect(parseThreadHeader('Thread debugging using libthread_db enabled')).toBeUndefined();
		expect(parseThreadHeader('[Thread debugging using libthread_db enabled]')).toBeUndefined();
		expect(parseThreadHeader('Thread 3 (something else):')).toBeUndefined();
	});
});

describe('parseFrameLine', () => {
	it.each([
		['#0  0x00007fb8ff182366 in ppoll () from /lib/x86_64-linux-gnu/libc.so.6',
			{func: 'ppoll', lib: '/lib/x86_64-linux-gnu/libc.so.6', addr: '0x00007fb8ff182366'}],
		['#3  0x000055d5b5d54148 in ?? ()', {func: '??', addr: '0x000055d5b5d54148'}],
		['#4  0x00007fb8bc08a49e in code_gen_buffer ()', {func: 'code_gen_buffer', addr: '0x00007fb8bc08a49e'}],
		['#0  syscall () at ../sysdeps/unix/sysv/linux/x86_64/syscall.S:38',
			{func: 'syscall', file: '../sysdeps/unix/sysv/linux/x86_64/syscall.S', line: 38}],
		['#5  <signal handler called>', {func: '<signal handler called>'}],
		['#1  0x0000000000401136 in f (s=0x402010 "a) at x.c:1 (", c=41 \')\', q=0x1 "\\")") at prog.c:12',
			{func: 'f', file: 'prog.c', line: 12, addr: '0x0000000000401136'}],
		['#2  0x0000000000401136 in g (p=..., v={a = 1, b = {c = (1), d = "}"}}, cb=0x401000 <h(int)>) at g.c:7',
			{func: 'g', file: 'g.c', line: 7, addr: '0x0000000000401136'}],
		['#3  0x00007f00 in std::function<void (int)>::operator()(int) const () from /lib/libx.so',
			{func: 'std::function<void (int)>::operator()(int) const', lib: '/lib/libx.so', addr: '0x00007f00'}],
		['#4  0x00007f00 in (anonymous namespace)::run (this=0x1) at a b/c.cc:9',
			{func: '(anonymous namespace)::run', file: 'a b/c.cc', line: 9, addr: '0x00007f00'}],
		['#0  0x0000000000000000 in ?? ()', {func: '??', addr: '0x0000000000000000'}],
	])('%s', (line, expected) => {
		expect(parseFrameLine(line)).toEqual(expected);
	});

	it('returns undefined for an argument list that does not close (a wrapped line)', () => {
		expect(parseFrameLine('#1  0x1 in f (a=1,')).toBeUndefined();
		expect(parseFrameLine('0x00007fb8ff182366 in ppoll () from /lib/x86_64-linux-gnu/libc.so.6')).toBeUndefined();
	});
});

describe('parseBatchBacktrace on odd output', () => {
	it('joins wrapped frame lines and a location printed on a line of its own', () => {
		const text = [
			'Thread 2 (LWP 11 "w"):',
			'#0  0x0000000000401136 in long_function (first_argument=0x1, second=(nil),',
			'    third=<optimized out>) at src/long.c:10',
			'#1  0x0000000000401200 in caller (very_long_argument_list=0x1)',
			'    at src/caller.c:20',
			'#2  0x0000000000401300 in lib_fn ()',
			'    from /usr/lib/libfoo.so.1',
			'#3  0x0000000000401400 in start_thread (arg=<optimized out>) at ./nptl/pthread_create.c:442',
			'',
			'Thread 1 (LWP 10 "main"):',
			'#0  main () at m.c:1',
		].join('\n');
		expect(parseBatchBacktrace(text)).toEqual([
			{tid: 11, name: 'w', frames: [
				{func: 'long_function', file: 'src/long.c', line: 10, addr: '0x0000000000401136'},
				{func: 'caller', file: 'src/caller.c', line: 20, addr: '0x0000000000401200'},
				{func: 'lib_fn', lib: '/usr/lib/libfoo.so.1', addr: '0x0000000000401300'},
				{func: 'start_thread', file: './nptl/pthread_create.c', line: 442, addr: '0x0000000000401400'},
			]},
			{tid: 10, name: 'main', frames: [{func: 'main', file: 'm.c', line: 1}]},
		]);
	});

	it('skips warnings, notices and footers; keeps a thread without frames; CRLF is fine', () => {
		const text = [
			'warning: Target and debugger are in different PID namespaces; thread lists and other data are likely unreliable. Connect to gdbserver inside the container.',
			'[New LWP 3]',
			'0x00007fb8ff182366 in ppoll () from /lib/x86_64-linux-gnu/libc.so.6',
			'',
			'Thread 2 (LWP 3 "x"):',
			'Cannot execute this command while the selected thread is running.',
			'',
			'Thread 1 (LWP 2 "y"):',
			'#0  0x1 in a ()',
			'Backtrace stopped: previous frame inner to this frame (corrupt stack?)',
			'[Inferior 1 (process 2) detached]',
		].join('\r\n');
		expect(parseBatchBacktrace(text)).toEqual([
			{tid: 3, name: 'x', frames: []},
			{tid: 2, name: 'y', frames: [{func: 'a', addr: '0x1'}]},
		]);
	});

	it('drops frames under a header it cannot decode instead of giving them to the previous thread', () => {
		const text = 'Thread 1 (LWP 2 "y"):\n#0  a ()\nThread 2 (Remote target):\n#0  b ()\n';
		expect(parseBatchBacktrace(text)).toEqual([{tid: 2, name: 'y', frames: [{func: 'a'}]}]);
	});

	it('keeps a frame whose line never parses, by its function name', () => {
		const text = 'Thread 1 (LWP 2 "y"):\n#0  0x5 in broken (a="unterminated\n#1  0x6 in ok ()\n';
		expect(parseBatchBacktrace(text)[0]!.frames).toEqual([{func: 'broken', addr: '0x5'}, {func: 'ok', addr: '0x6'}]);
	});

	it('reads a thread name with a newline in it (the kernel does not filter comm)', () => {
		const text = 'Thread 2 (LWP 3 "two\nlines"):\n#0  a ()\nThread 1 (LWP 2 "y"):\n#0  b ()\n';
		expect(parseBatchBacktrace(text)).toEqual([
			{tid: 3, name: 'twolines', frames: [{func: 'a'}]},
			{tid: 2, name: 'y', frames: [{func: 'b'}]},
		]);
		// A broken header is not joined with the next header.
		expect(parseBatchBacktrace('Thread 2 (LWP 3 "x\nThread 1 (LWP 2 "y"):\n#0  b ()\n')).toEqual([
			{tid: 2, name: 'y', frames: [{func: 'b'}]},
		]);
	});

	it('returns nothing for empty or unrelated text', () => {
		expect(parseBatchBacktrace('')).toEqual([]);
		expect(parseBatchBacktrace('ptrace: Operation not permitted.\n')).toEqual([]);
	});
});
