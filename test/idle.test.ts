import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {parseBatchBacktrace} from '../src/gdb/batch-parse.js';
import {classifyStack, isIdleFrame, isLockFrame, plainFuncName, STATE_LABELS, type StackState} from '../src/profile/idle.js';
import type {Frame, ThreadStack} from '../src/profile/model.js';
import {transcriptRounds} from './helpers/mi-transcript-stacks.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);
const LOCAL = new URL('fixtures/batch/', import.meta.url);

function batch(name: string, base = FIXTURES): ThreadStack[] {
	return parseBatchBacktrace(readFileSync(new URL(name, base), 'utf8'));
}

// Leaf-first frames from `a <- b <- c`; `f@lib` puts the frame in a shared object, `f:file` gives it a source file.
function frames(chain: string): Frame[] {
	if (!chain) return [];
	return chain.split(' <- ').map(text => {
		const lib = /^(.*)@(.*)$/.exec(text);
		if (lib) return {func: lib[1]!, lib: lib[2]!};
		const file = /^(.*?):(.*)$/.exec(text);
		if (file) return {func: file[1]!, file: file[2]!};
		return {func: text};
	});
}

const states = (threads: ThreadStack[]) => threads.map(t => classifyStack(t.frames));

describe('classifyStack on the QEMU gdb-batch fixtures', () => {
	// Checked by hand: everything waits except the vCPUs, which run QEMU code (cpu_exec, a QOM cast, a mutex
	// unlock) or wait for the BQL inside TCG code.
	it.each([
		['named-gdb-batch-1.txt', ['idle', 'idle', 'idle', 'idle', 'idle', 'idle']],
		// CPU 1: `?? <- qemu_mutex_lock_iothread_impl` (taking the BQL); CPU 0: `__GI___lll_lock_wake <- ... <- qemu_mutex_unlock_impl`.
		['named-gdb-batch-2.txt', ['idle', 'idle', 'idle', 'lock', 'running', 'idle', 'idle']],
		// CPU 1: object_class_dynamic_cast_assert; CPU 0: `futex_wait <- __GI___lll_lock_wait <- ... qemu_mutex_lock_iothread_impl`.
		['named-gdb-batch-3.txt', ['idle', 'idle', 'idle', 'running', 'lock', 'idle', 'idle']],
		['default-gdb-batch-1.txt', ['idle', 'idle', 'running', 'idle', 'idle', 'idle']],
		['default-gdb-batch-2.txt', ['idle', 'idle', 'idle', 'idle', 'idle', 'idle']],
		['default-gdb-batch-3.txt', ['idle', 'idle', 'idle', 'running', 'lock', 'idle', 'idle']],
		// Without libc debug info: `?? <- pthread_cond_timedwait`, `pthread_mutex_lock <- qemu_mutex_lock_impl`,
		// `?? <- ?? <- qemu_mutex_unlock_impl`, `syscall <- qemu_event_wait`, `ppoll`.
		['default-gdb-batch-nodebuginfo.txt', ['idle', 'idle', 'idle', 'lock', 'running', 'idle', 'idle']],
	] as [string, StackState[]][])('%s', (file, expected) => {
		expect(states(batch(file))).toEqual(expected);
	});

	it('the demo target: pread, an eventfd write and clock_gettime are running, waits are idle', () => {
		expect(states(batch('demo-named.txt', LOCAL))).toEqual(['idle', 'idle', 'idle', 'running', 'running', 'idle']);
		expect(states(batch('demo-unnamed-escape.txt', LOCAL))).toEqual(['idle', 'idle', 'running', 'running', 'running', 'running', 'idle']);
	});
});

describe('classifyStack on the MI transcripts', () => {
	it('named: the main thread once waits for the BQL; vCPU leaves in glib and under code_gen_buffer run', () => {
		const rounds = transcriptRounds(new URL('named-gdb-mi-transcript.txt', FIXTURES));
		const byRound = rounds.map(r => Object.fromEntries(r.threads.map(t => [t.tid, classifyStack(t.frames)])));
		const idleRest = {17460: 'idle', 17666: 'idle', 17673: 'idle', 17736: 'idle'};
		expect(byRound).toEqual([
			{17455: 'idle', 17461: 'running', 17462: 'idle', ...idleRest}, // CPU 0 in g_hash_table_lookup
			{17455: 'lock', 17461: 'idle', 17462: 'idle', ...idleRest}, // main: qemu_mutex_lock_iothread_impl
			{17455: 'idle', 17461: 'running', 17462: 'idle', ...idleRest}, // CPU 0: ?? <- code_gen_buffer
			{17455: 'idle', 17461: 'idle', 17462: 'idle', ...idleRest},
			{17455: 'idle', 17461: 'idle', 17462: 'idle', ...idleRest},
		]);
	});

	it('default: counts over 10 rounds', () => {
		const counts: Record<string, number> = {};
		for (const round of transcriptRounds(new URL('default-gdb-mi-transcript.txt', FIXTURES))) {
			for (const t of round.threads) {
				const key = `${t.tid} ${classifyStack(t.frames)}`;
				counts[key] = (counts[key] ?? 0) + 1;
			}
		}
		expect(counts).toEqual({
			// main: 8 x ppoll, 2 x `futex_wake <- ___pthread_cond_signal <- qemu_cond_signal <- thread_pool_submit_aio`
			'18577 idle': 8, '18577 running': 2,
			'18582 idle': 10,
			// CPU 0: 9 x halted, 1 x `?? <- qht_lookup_custom` under code_gen_buffer
			'18583 idle': 9, '18583 running': 1,
			// CPU 1: 8 x halted, 2 x waiting for the BQL from TCG code
			'18584 idle': 8, '18584 lock': 2,
			'18723 idle': 10, '18738 idle': 10, '18815 idle': 10,
		});
	});
});

describe('classifyStack on synthetic stacks', () => {
	it.each([
		// Poll family, with and without libc debug info.
		['__ppoll:../sysdeps/unix/sysv/linux/ppoll.c <- qemu_poll_ns <- main_loop_wait', 'idle'],
		['ppoll@libc.so.6 <- qemu_poll_ns <- main_loop_wait', 'idle'],
		['poll@libc.so.6 <- ??@libglib-2.0.so.0 <- g_main_loop_run@libglib-2.0.so.0', 'idle'],
		['epoll_wait@libc.so.6 <- ?? <- aio_poll', 'idle'],
		['__GI___select <- main', 'idle'],
		['__pselect64 <- main', 'idle'],
		// Condition variables: every glibc spelling, and QEMU's wrappers directly over a syscall.
		['___pthread_cond_wait <- qemu_cond_wait_impl', 'idle'],
		['__pthread_cond_wait <- foo', 'idle'],
		['pthread_cond_timedwait@libc.so.6 <- ?? <- qemu_cond_timedwait_impl', 'idle'],
		['??@libc.so.6 <- pthread_cond_wait@libc.so.6 <- qemu_cond_wait_impl <- qemu_wait_io_event', 'idle'],
		['__pthread_cond_clockwait64 <- foo', 'idle'],
		['syscall <- qemu_event_wait <- ?? <- ?? <- start_thread', 'idle'],
		['syscall@libc.so.6 <- qemu_event_wait', 'idle'],
		['?? <- qemu_cond_timedwait_impl <- worker_thread', 'idle'],
		// Semaphores and sleeps.
		['__futex_abstimed_wait_common64 <- __futex_abstimed_wait_common <- __new_sem_wait_slow64 <- __new_sem_wait <- qemu_sem_wait', 'idle'],
		['sem_timedwait@libc.so.6 <- qemu_sem_timedwait', 'idle'],
		['do_futex_wait <- __new_sem_wait_slow64 <- foo', 'idle'],
		['__GI___clock_nanosleep <- __GI___nanosleep <- g_usleep@libglib-2.0.so.0 <- ??', 'idle'],
		['clock_nanosleep@libc.so.6 <- usleep@libc.so.6 <- main', 'idle'],
		['__clock_nanosleep_time64 <- foo', 'idle'],
		['syscall <- qemu_futex_wait <- qemu_event_wait', 'idle'],
		// A futex wait nothing explains is idle; a futex wake is work.
		['futex_wait:../sysdeps/nptl/futex-internal.h <- ?? <- custom_barrier', 'idle'],
		['futex_wake:../sysdeps/nptl/futex-internal.h <- ___pthread_cond_signal:./nptl/pthread_cond_signal.c <- qemu_cond_signal', 'running'],
		// Locks.
		['futex_wait <- __GI___lll_lock_wait <- lll_mutex_lock_optimized <- ___pthread_mutex_lock <- qemu_mutex_lock_impl', 'lock'],
		['pthread_mutex_lock@libc.so.6 <- qemu_mutex_lock_impl <- process_queued_cpu_work', 'lock'],
		['??@libc.so.6 <- pthread_mutex_lock@libc.so.6 <- qemu_mutex_lock_impl', 'lock'],
		['?? <- qemu_mutex_lock_iothread_impl <- ??@accel-tcg-x86_64.so', 'lock'],
		['__lll_lock_wait_private <- malloc', 'lock'],
		['futex_wait <- __lll_lock_wait <- __pthread_cond_wait_common <- ___pthread_cond_wait', 'lock'],
		['syscall <- qemu_futex_wait <- qemu_lockcnt_lock <- aio_dispatch', 'lock'],
		['futex_wait <- __GI___lll_lock_wait <- qemu_rec_mutex_lock_impl', 'lock'],
		['pthread_rwlock_wrlock <- foo', 'lock'],
		// Guest: KVM_RUN, and TCG-translated code as the leaf.
		['ioctl@libc.so.6 <- kvm_vcpu_ioctl <- kvm_cpu_exec <- ?? <- ?? <- start_thread', 'guest'],
		['__GI___ioctl:../sysdeps/unix/sysv/linux/ioctl.c <- ioctl:../sysdeps/unix/sysv/linux/ioctl.c <- kvm_vcpu_ioctl <- kvm_cpu_exec', 'guest'],
		['ioctl <- kvm_cpu_exec <- kvm_vcpu_thread_fn', 'guest'],
		['ioctl@libc.so.6 <- kvm_vcpu_ioctl <- ?? <- kvm_cpu_exec', 'guest'],
		['code_gen_buffer <- ?? <- cpu_exec <- tcg_cpus_exec@accel-tcg-x86_64.so', 'guest'],
		// Other vCPU ioctls, QEMU code around KVM_RUN, helpers called from translated code: running.
		['ioctl@libc.so.6 <- kvm_vcpu_ioctl <- kvm_arch_get_registers <- do_kvm_cpu_synchronize_state', 'running'],
		['kvm_cpu_exec <- ?? <- ?? <- start_thread', 'running'],
		['?? <- code_gen_buffer <- ?? <- cpu_exec', 'running'],
		['?? <- qht_lookup_custom <- ?? <- ?? <- code_gen_buffer', 'running'],
		['ioctl@libc.so.6 <- kvm_vm_ioctl <- kvm_set_user_memory_region', 'running'],
		// Syscalls that do work: the main loop's eventfd read, the workers' file I/O.
		['read@libc.so.6 <- event_notifier_test_and_clear <- ?? <- aio_dispatch_handler', 'running'],
		['__GI___libc_read:../sysdeps/unix/sysv/linux/read.c <- event_notifier_test_and_clear', 'running'],
		['preadv64@libc.so.6 <- ?? <- v9fs_co_preadv', 'running'],
		['syscall@libc.so.6 <- ?? <- some_other_syscall_user', 'running'],
		['cpu_exec <- tcg_cpus_exec', 'running'],
		['g_hash_table_lookup@libglib-2.0.so.0 <- object_class_dynamic_cast', 'running'],
		// Nothing to go on.
		['', 'running'],
		['??', 'running'],
		['?? <- ?? <- ??', 'running'],
	] as [string, StackState][])('%s -> %s', (chain, state) => {
		expect(classifyStack(frames(chain))).toBe(state);
	});

	it('stops at the first named frame of the program: a wait above it does not count', () => {
		expect(classifyStack(frames('memcpy@libc.so.6 <- v9fs_string_copy <- qemu_cond_wait_impl'))).toBe('running');
		expect(classifyStack(frames('write@libc.so.6 <- event_notifier_set <- worker_thread <- qemu_cond_timedwait_impl'))).toBe('running');
	});
});

describe('isIdleFrame, isLockFrame, plainFuncName', () => {
	it.each([
		'ppoll', '__ppoll', '__GI___poll', 'epoll_wait', 'select', '___pthread_cond_wait', '___pthread_cond_timedwait64',
		'__pthread_cond_wait_common', 'pthread_cond_timedwait', '__futex_abstimed_wait_common64', '__futex_abstimed_wait_common',
		'__GI___futex_abstimed_wait_cancelable64', 'futex_wait', 'qemu_event_wait', 'qemu_cond_wait_impl',
		'qemu_cond_timedwait_impl', 'sem_wait', 'sem_timedwait', 'nanosleep', '__GI___clock_nanosleep', 'qemu_poll_ns',
	])('%s is idle', func => {
		expect(isIdleFrame(func)).toBe(true);
		expect(isLockFrame(func)).toBe(false);
	});

	it.each(['syscall', 'ioctl', 'read', '__GI___libc_read', 'futex_wake', 'code_gen_buffer', 'pthread_mutex_lock', '??', 'main_loop_wait'])(
		'%s is not idle', func => {
			expect(isIdleFrame(func)).toBe(false);
		});

	it.each(['pthread_mutex_lock', '___pthread_mutex_lock', '__GI___lll_lock_wait', 'lll_mutex_lock_optimized',
		'qemu_mutex_lock_impl', 'qemu_mutex_lock_iothread_impl', 'bql_lock_impl'])('%s is a lock', func => {
		expect(isLockFrame(func)).toBe(true);
	});

	it.each([
		['___pthread_cond_timedwait64', 'pthread_cond_timedwait'],
		['__GI___libc_write', 'write'],
		['__libc_pread64', 'pread'],
		['__futex_abstimed_wait_common64', 'futex_abstimed_wait_common'],
		['__clock_nanosleep_time64', 'clock_nanosleep'],
		['__GI___futex_abstimed_wait_cancelable64', 'futex_abstimed_wait_cancelable'],
		['__openat64_nocancel', 'openat'],
		['qemu_event_wait', 'qemu_event_wait'],
	])('plainFuncName(%s) = %s', (func, plain) => {
		expect(plainFuncName(func)).toBe(plain);
	});

	it('labels every state', () => {
		expect(Object.keys(STATE_LABELS)).toEqual(['idle', 'lock', 'guest', 'running']);
	});
});
