// What a thread was doing in one sample, from the leaf end of its stack: waiting for work (idle), waiting
// for a lock, running the guest, or running. Wall-clock samples of QEMU are mostly idle (DOMAIN.md section 3);
// the UI uses this to hide or de-emphasize them (py-spy's `--idle`).

import type {Frame} from './model.js';
import {baseName, isUnknown} from './model.js';

/**
The state of one thread in one sample.
- 'idle': blocked waiting for work or time: poll/ppoll/epoll/select, condition variables, semaphores,
  QEMU events, sleeps, and plain futex waits nothing else explains.
- 'lock': acquiring a mutex (pthread_mutex_lock, glibc's lll_lock_wait, qemu_mutex_lock_impl, the BQL via
  qemu_mutex_lock_iothread_impl): contention, usually worth seeing, so kept apart from idle.
- 'guest': the vCPU is running the guest: in the KVM_RUN ioctl (`ioctl <- kvm_vcpu_ioctl <- kvm_cpu_exec`; a
  halted KVM vCPU also sleeps in there, the stack cannot tell), or executing TCG-translated code
  (`code_gen_buffer` as the leaf; helpers called from it are QEMU code and count as running).
- 'running': anything else, including syscalls that do work (read on an eventfd, pread, write).
*/
export type StackState = 'idle' | 'lock' | 'guest' | 'running';

/** Human labels for stack states. */
export const STATE_LABELS: Readonly<Record<StackState, string>> = {
	idle: 'idle',
	lock: 'lock wait',
	guest: 'in guest',
	running: 'running',
};

/**
A function name without glibc's decorations, for comparing spellings: `__GI_` and `__libc_` prefixes, leading
underscores, and `64`/`_time64`/`_nocancel` suffixes go (`___pthread_cond_timedwait64` ->
`pthread_cond_timedwait`, `__GI___libc_write` -> `write`, `__futex_abstimed_wait_common64` ->
`futex_abstimed_wait_common`).
*/
export function plainFuncName(func: string): string {
	return func
		.replace(/^__GI_/, '')
		.replace(/^_+/, '')
		.replace(/^libc_/, '')
		.replace(/_nocancel$/, '')
		.replace(/(?:_time)?64$/, '');
}

/**
Functions that wait for work or time, as plain names (see `plainFuncName`). libc: poll family, condition
variables (all of glibc's spellings reduce to these), semaphores, sleeps, signal waits; glib's g_usleep and
g_cond_wait; QEMU's wait primitives, which are global symbols and keep their names in a stripped binary.
*/
export const IDLE_FUNCS: ReadonlySet<string> = new Set([
	'poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'select', 'pselect', 'pselect6',
	'pthread_cond_wait', 'pthread_cond_timedwait', 'pthread_cond_clockwait', 'pthread_cond_wait_common',
	'sem_wait', 'sem_timedwait', 'sem_clockwait', 'new_sem_wait', 'new_sem_wait_slow', 'new_sem_clockwait',
	'do_futex_wait', 'nanosleep', 'clock_nanosleep', 'thrd_sleep', 'usleep', 'sleep', 'pause', 'sigsuspend',
	'sigwait', 'sigwaitinfo', 'sigtimedwait',
	'g_usleep', 'g_poll', 'g_cond_wait', 'g_cond_wait_until',
	'qemu_event_wait', 'qemu_cond_wait_impl', 'qemu_cond_timedwait_impl', 'qemu_sem_wait',
	'qemu_sem_timedwait', 'qemu_poll_ns',
]);

/** Functions that acquire a lock, as plain names: pthread and glibc's low-level lock, QEMU's mutexes and BQL. */
export const LOCK_FUNCS: ReadonlySet<string> = new Set([
	'pthread_mutex_lock', 'pthread_mutex_lock_full', 'pthread_mutex_timedlock', 'pthread_mutex_clocklock',
	'pthread_mutex_cond_lock', 'pthread_rwlock_rdlock', 'pthread_rwlock_wrlock', 'pthread_rwlock_timedrdlock',
	'pthread_rwlock_timedwrlock', 'pthread_rwlock_clockrdlock', 'pthread_rwlock_clockwrlock', 'pthread_spin_lock',
	'lll_lock', 'lll_lock_wait', 'lll_lock_wait_private', 'lll_mutex_lock_optimized',
	'qemu_mutex_lock_impl', 'qemu_rec_mutex_lock_impl', 'qemu_mutex_lock_iothread_impl', 'bql_lock_impl',
	'qemu_lockcnt_lock', 'g_mutex_lock', 'g_rec_mutex_lock', 'g_rw_lock_reader_lock', 'g_rw_lock_writer_lock',
]);

// Futex waits say "blocked" but not on what: a caller that is a lock or a wait decides, otherwise idle.
const FUTEX_WAIT = /^(?:futex_(?:abstimed_|reltimed_)?wait(?:_\w+)?|qemu_futex_wait)$/;
// Frames that never decide by themselves: generic syscall entries whose meaning is their caller's.
const PASS_THROUGH: ReadonlySet<string> = new Set(['syscall', 'ioctl']);
// glibc and the dynamic loader, by shared object (no debug info) or by glibc source path (with debug info).
const LIBC_LIB = /^(?:libc|libpthread|librt|libdl|ld-linux[\w.-]*|ld)[-.]/;
const LIBC_FILE = /^\.{1,2}\/(?:sysdeps|nptl|misc|csu|posix|signal|libio|malloc|string|stdlib|elf)\//;
// How far from the leaf to look: glibc's condition wait is 5 frames deep with debug info.
const SCAN_LIMIT = 12;

function isLibcFrame(frame: Frame): boolean {
	if (frame.lib !== undefined) return LIBC_LIB.test(baseName(frame.lib));
	return frame.file !== undefined && LIBC_FILE.test(frame.file);
}

/** True for a function that waits for work or time (see IDLE_FUNCS), including plain futex waits. */
export function isIdleFrame(func: string): boolean {
	const name = plainFuncName(func);
	return IDLE_FUNCS.has(name) || FUTEX_WAIT.test(name);
}

/** True for a function that acquires a lock (see LOCK_FUNCS). */
export function isLockFrame(func: string): boolean {
	return LOCK_FUNCS.has(plainFuncName(func));
}

// The KVM_RUN ioctl: kvm_cpu_exec calls kvm_vcpu_ioctl(cpu, KVM_RUN, 0); other vCPU ioctls (register
// get/set) come from kvm_arch_* callers.
function isKvmRun(frames: readonly Frame[], at: number): boolean {
	const func = frames[at]!.func;
	if (func === 'kvm_cpu_exec') return true;
	if (func !== 'kvm_vcpu_ioctl') return false;
	const caller = frames.slice(at + 1).find(f => !isUnknown(f));
	return caller?.func === 'kvm_cpu_exec';
}

/**
Classify one stack (leaf first) as 'idle', 'lock', 'guest' or 'running' (see StackState). Walks from the leaf
through libc and unnamed frames up to the first named frame of the program, and lets the innermost telling
function decide: `syscall <- qemu_event_wait` is idle, `futex_wait <- __lll_lock_wait <- pthread_mutex_lock`
is lock, `ioctl <- kvm_vcpu_ioctl <- kvm_cpu_exec` is guest, `read <- event_notifier_test_and_clear` running.
*/
export function classifyStack(frames: readonly Frame[]): StackState {
	if (frames[0]?.func === 'code_gen_buffer') return 'guest';
	let futexWait = false;
	let ioctl = false;
	const end = Math.min(frames.length, SCAN_LIMIT);
	for (let i = 0; i < end; i++) {
		const frame = frames[i]!;
		if (isUnknown(frame)) continue;
		const name = plainFuncName(frame.func);
		if (IDLE_FUNCS.has(name)) return 'idle';
		if (LOCK_FUNCS.has(name)) return 'lock';
		if (FUTEX_WAIT.test(name)) {
			futexWait = true;
			continue;
		}
		if (name === 'ioctl') ioctl = true;
		if (PASS_THROUGH.has(name) || isLibcFrame(frame)) continue;
		if (ioctl && isKvmRun(frames, i)) return 'guest';
		break;
	}
	return futexWait ? 'idle' : 'running';
}
