import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {parseBatchBacktrace} from '../src/gdb/batch-parse.js';
import type {Frame, ThreadStack} from '../src/profile/model.js';
import {
	entryFunction, inferRole, matchRoleRule, type Role, ROLE_LABELS, ROLE_RULES, RoleTracker, type RoleRule, ROLES,
} from '../src/profile/roles.js';
import {transcriptRounds} from './helpers/mi-transcript-stacks.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);
const LOCAL = new URL('fixtures/batch/', import.meta.url);

function batch(name: string, base = FIXTURES): ThreadStack[] {
	return parseBatchBacktrace(readFileSync(new URL(name, base), 'utf8'));
}

// Leaf-first frames from `a <- b <- c` notation; `f@lib` puts the frame in a shared object.
function frames(chain: string): Frame[] {
	return chain.split(' <- ').map(text => {
		const [func, lib] = text.split('@');
		return lib ? {func: func!, lib} : {func: func!};
	});
}

function stack(chain: string, name = 'qemu-system-x86', tid = 1): ThreadStack {
	return {tid, name, frames: frames(chain)};
}

const rolesByTid = (threads: ThreadStack[]) => Object.fromEntries(threads.map(t => [t.tid, inferRole(t)]));
const withoutNames = (threads: ThreadStack[], name: string) => threads.map(t => ({...t, name}));

// Checked by hand against each capture (see the stacks in the files): the main thread is rooted in _start,
// vCPUs run cpu_exec/tcg_cpus_exec or halt in qemu_wait_io_event (accel-tcg frames), workers wait in
// qemu_cond_timedwait_impl, the RCU thread in qemu_event_wait.
const NAMED: Record<number, Role> = {
	17455: 'main', 17460: 'rcu', 17461: 'vcpu', 17462: 'vcpu', 17666: 'worker', 17673: 'worker', 17736: 'worker',
};
const DEFAULT: Record<number, Role> = {
	18577: 'main', 18582: 'rcu', 18583: 'vcpu', 18584: 'vcpu', 18723: 'worker', 18738: 'worker', 18815: 'worker',
};

describe('inferRole on the QEMU gdb-batch fixtures', () => {
	const files: [string, Record<number, Role>, string[]][] = [
		['named-gdb-batch-1.txt', NAMED, ['worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['named-gdb-batch-2.txt', NAMED, ['worker', 'worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['named-gdb-batch-3.txt', NAMED, ['worker', 'worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['default-gdb-batch-1.txt', DEFAULT, ['worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['default-gdb-batch-2.txt', DEFAULT, ['worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['default-gdb-batch-3.txt', DEFAULT, ['worker', 'worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
		['default-gdb-batch-nodebuginfo.txt', DEFAULT, ['worker', 'worker', 'worker', 'vcpu', 'vcpu', 'rcu', 'main']],
	];
	for (const [file, expected, inOrder] of files) {
		it(`${file}: every thread`, () => {
			const threads = batch(file);
			expect(threads.map(t => inferRole(t))).toEqual(inOrder);
			for (const t of threads) expect(inferRole(t), `TID ${t.tid}`).toBe(expected[t.tid]);
		});
		it(`${file}: every thread from its stack alone (names all equal, as on NixOS)`, () => {
			expect(rolesByTid(withoutNames(batch(file), 'qemu-system-x86'))).toEqual(rolesByTid(batch(file)));
		});
	}

	it('names alone settle vCPUs and workers; the main and RCU threads keep the process name', () => {
		const threads = batch('named-gdb-batch-2.txt').map(t => ({...t, frames: []}));
		expect(threads.map(t => inferRole(t))).toEqual(['worker', 'worker', 'worker', 'vcpu', 'vcpu', 'unknown', 'unknown']);
	});

	it('the rule that decided, for the default-named capture without libc debug info', () => {
		const why = batch('default-gdb-batch-nodebuginfo.txt').map(t => matchRoleRule(t)?.why);
		expect(why).toEqual([
			'thread-pool idle wait', 'thread-pool idle wait', 'thread-pool idle wait',
			'vCPU execution or halt loop', // process_queued_cpu_work
			'vCPU execution or halt loop', // code_gen_buffer, cpu_exec
			'RCU thread waiting for callbacks', 'main loop or process entry',
		]);
	});
});

describe('inferRole on the MI transcripts (every sampled round)', () => {
	for (const [file, expected] of [['named-gdb-mi-transcript.txt', NAMED], ['default-gdb-mi-transcript.txt', DEFAULT]] as const) {
		it(`${file}`, () => {
			const rounds = transcriptRounds(new URL(file, FIXTURES));
			expect(rounds.length).toBe(file.startsWith('named') ? 5 : 10);
			for (const round of rounds) {
				expect(round.threads.length).toBe(7);
				for (const t of round.threads) {
					expect(inferRole(t), `round ${round.token} TID ${t.tid}`).toBe(expected[t.tid]);
					expect(inferRole({...t, name: 'qemu-system-x86'}), `round ${round.token} TID ${t.tid} unnamed`).toBe(expected[t.tid]);
				}
			}
		});
	}
});

describe('inferRole on the demo target', () => {
	it('named and unnamed captures; the thread with a hostile name is unknown', () => {
		expect(batch('demo-named.txt', LOCAL).map(t => inferRole(t))).toEqual(['rcu', 'worker', 'worker', 'vcpu', 'vcpu', 'main']);
		const expected = ['unknown', 'rcu', 'worker', 'worker', 'vcpu', 'vcpu', 'main'];
		expect(batch('demo-unnamed-escape.txt', LOCAL).map(t => inferRole(t))).toEqual(expected);
		expect(batch('demo-no-libthread-db.txt', LOCAL).map(t => inferRole(t))).toEqual(expected);
	});

	it.each([
		['ppoll <- qemu_poll_ns <- main_loop_wait <- qemu_main_loop <- qemu_default_main <- main', 'main'],
		['read <- event_notifier_test_and_clear <- main_loop_wait <- qemu_main_loop <- qemu_default_main <- main', 'main'],
		['guest_compute <- vcpu_run <- kvm_cpu_exec <- kvm_vcpu_thread_fn <- qemu_thread_start <- start_thread <- clone3', 'vcpu'],
		['guest_mmio <- vcpu_run <- kvm_cpu_exec <- kvm_vcpu_thread_fn <- qemu_thread_start <- start_thread <- clone3', 'vcpu'],
		['pread64 <- worker_do_pread <- worker_thread <- qemu_thread_start <- start_thread <- clone3', 'worker'],
		['write <- event_notifier_set <- worker_thread <- qemu_thread_start <- start_thread <- clone3', 'worker'],
		['syscall <- qemu_event_wait <- call_rcu_thread <- qemu_thread_start <- start_thread <- clone3', 'rcu'],
	] as const)('%s -> %s', (chain, role) => {
		expect(inferRole(stack(chain, 'qemu-demo'))).toBe(role);
	});
});

describe('inferRole on stripped stacks not in the fixtures', () => {
	it.each([
		// KVM: kvm_vcpu_thread_fn is static, kvm_cpu_exec global.
		['ioctl@libc.so.6 <- kvm_vcpu_ioctl <- kvm_cpu_exec <- ?? <- ?? <- ??@libc.so.6 <- ??@libc.so.6', 'vcpu'],
		// An iothread polling (iothread_run is static).
		['ppoll@libc.so.6 <- qemu_poll_ns <- aio_poll <- ?? <- ?? <- start_thread <- clone3', 'iothread'],
		['epoll_wait <- ?? <- aio_poll <- iothread_run <- qemu_thread_start <- start_thread <- clone3', 'iothread'],
		// 9p on coroutines: no thread root. File operations run on workers, the rest on the main thread.
		['preadv64@libc.so.6 <- ?? <- v9fs_co_preadv <- ?? <- ?? <- __start_context@libc.so.6', 'worker'],
		['preadv64 <- local_preadv <- v9fs_co_preadv <- v9fs_read <- coroutine_trampoline <- __start_context', 'worker'],
		['__GI___openat64_nocancel <- ?? <- ?? <- ?? <- start_thread <- clone3', 'worker'],
		['g_hash_table_lookup@libglib-2.0.so.0 <- ?? <- v9fs_path_copy <- ?? <- ?? <- __start_context@libc.so.6', 'main'],
		['memcpy@libc.so.6 <- v9fs_iov_vmarshal <- pdu_marshal <- ?? <- ?? <- __start_context@libc.so.6', 'main'],
		// 9p handling that reaches the main thread's root is main, whatever the leaf.
		['get_fid <- v9fs_walk <- coroutine_trampoline <- qemu_coroutine_switch <- qemu_coroutine_enter <- aio_bh_poll <- main_loop_wait <- qemu_main_loop <- qemu_default_main <- __libc_start_call_main <- __libc_start_main_impl <- _start', 'main'],
		// The RCU thread between batches and in a grace period.
		['clock_nanosleep@libc.so.6 <- nanosleep@libc.so.6 <- g_usleep@libglib-2.0.so.0 <- ?? <- ?? <- start_thread <- clone3', 'rcu'],
		['syscall <- qemu_event_wait <- synchronize_rcu <- ?? <- ?? <- start_thread <- clone3', 'rcu'],
		// Older TCG and vCPU names.
		['?? <- cpu_exec <- tcg_cpu_exec <- qemu_tcg_rr_cpu_thread_fn <- start_thread <- clone', 'vcpu'],
		['ioctl <- kvm_vcpu_ioctl <- kvm_cpu_exec <- qemu_kvm_cpu_thread_fn <- start_thread <- clone', 'vcpu'],
	] as const)('%s -> %s', (chain, role) => {
		expect(inferRole(stack(chain))).toBe(role);
	});

	it.each([
		// Waiting for the BQL under static frames only: the RCU thread running callbacks, or another helper.
		'futex_wait <- __GI___lll_lock_wait <- ___pthread_mutex_lock <- qemu_mutex_lock_impl <- qemu_mutex_lock_iothread_impl <- ?? <- ?? <- start_thread <- clone3',
		// Nothing named at all, or a thread caught before it runs its function.
		'?? <- ?? <- ??@libc.so.6 <- ??@libc.so.6',
		'start_thread <- clone3',
		'',
		// A kernel thread in the thread group (kvm-nx-lpage-re) shows as one frame at address 0.
		'??',
	])('ambiguous on one sample: %s -> unknown', chain => {
		expect(inferRole({tid: 1, name: 'qemu-system-x86', frames: chain ? frames(chain) : []})).toBe('unknown');
	});

	it('a thread name beats its stack', () => {
		expect(inferRole(stack('syscall <- qemu_event_wait <- ?? <- ?? <- start_thread', 'worker'))).toBe('worker');
		expect(inferRole(stack('?? <- ?? <- start_thread', 'CPU 3/KVM'))).toBe('vcpu');
		expect(inferRole(stack('?? <- ?? <- start_thread', 'ALL CPUs/TCG'))).toBe('vcpu');
		expect(inferRole(stack('?? <- ?? <- start_thread', 'call_rcu'))).toBe('rcu');
		expect(inferRole(stack('?? <- ?? <- start_thread', 'IO iothread0'))).toBe('iothread');
	});

	it('rules put in front of the defaults extend the table for other programs', () => {
		const mine: RoleRule[] = [{role: 'worker', weight: 3, why: 'glib pool', name: /^pool-/}];
		const t = stack('?? <- g_thread_proxy <- start_thread', 'pool-spawner');
		expect(inferRole(t)).toBe('unknown');
		expect(inferRole(t, [...mine, ...ROLE_RULES])).toBe('worker');
		expect(inferRole(t, [{role: 'main', weight: 3, why: 'no matchers'}])).toBe('unknown');
	});
});

describe('entryFunction', () => {
	it.each([
		['syscall <- qemu_event_wait <- ?? <- ?? <- start_thread <- clone3', 'qemu_event_wait'],
		['?? <- pthread_cond_timedwait@libc.so.6 <- ?? <- qemu_cond_timedwait_impl <- ?? <- ?? <- ??@libc.so.6 <- ??@libc.so.6', 'qemu_cond_timedwait_impl'],
		['__ppoll <- qemu_poll_ns <- main_loop_wait <- qemu_main_loop <- qemu_default_main <- __libc_start_call_main <- __libc_start_main_impl <- _start', 'qemu_default_main'],
		['ppoll <- qemu_poll_ns <- main <- __libc_start_main_alias_2 <- _start', 'main'],
		['x <- worker_thread <- qemu_thread_start <- start_thread <- __clone3', 'worker_thread'],
		['?? <- start_thread <- clone3', undefined],
	] as const)('%s -> %s', (chain, entry) => {
		expect(entryFunction(frames(chain))).toBe(entry);
	});
});

describe('RoleTracker', () => {
	const rcuIdle = stack('syscall <- qemu_event_wait <- ?? <- ?? <- start_thread <- clone3', 'qemu-system-x86', 7);
	const rcuOnBql = stack('futex_wait <- ___pthread_mutex_lock <- qemu_mutex_lock_impl <- qemu_mutex_lock_iothread_impl <- ?? <- ?? <- start_thread', 'qemu-system-x86', 7);

	it('keeps a known role when a later sample says nothing', () => {
		const tracker = new RoleTracker();
		expect(tracker.roleOf(7)).toBe('unknown');
		expect(tracker.observe(rcuOnBql)).toBe('unknown');
		expect(tracker.observe(rcuIdle)).toBe('rcu');
		expect(tracker.observe(rcuOnBql)).toBe('rcu');
		expect(tracker.roleOf(7)).toBe('rcu');
	});

	it('prefers the most telling rule over a guess, and more samples among equals', () => {
		const tracker = new RoleTracker();
		const guessMain = stack('memcpy <- v9fs_iov_vmarshal <- ?? <- __start_context', 'x', 9);
		const workerIdle = stack('pthread_cond_timedwait <- ?? <- qemu_cond_timedwait_impl <- ?? <- ?? <- start_thread', 'x', 9);
		const rcuWait = stack('syscall <- qemu_event_wait <- ?? <- start_thread', 'x', 9);
		expect(tracker.observe(guessMain)).toBe('main'); // weight 1
		expect(tracker.observe(guessMain)).toBe('main');
		expect(tracker.observe(workerIdle)).toBe('worker'); // weight 2 beats two weight-1 samples
		expect(tracker.observe(guessMain)).toBe('worker');
		expect(tracker.observe(rcuWait)).toBe('worker'); // weight 2, one sample each: first kept
		expect(tracker.observe(rcuWait)).toBe('rcu'); // two samples to one
	});

	it('a default-named capture resolves every thread, and retain drops threads that exited', () => {
		const tracker = new RoleTracker();
		for (const t of batch('default-gdb-batch-3.txt')) tracker.observe(t);
		expect(Object.fromEntries([18815, 18738, 18723, 18584, 18583, 18582, 18577].map(tid => [tid, tracker.roleOf(tid)]))).toEqual(
			Object.fromEntries(Object.entries(DEFAULT).map(([tid, role]) => [tid, role])));
		tracker.retain([18577, 18582]);
		expect(tracker.roleOf(18815)).toBe('unknown');
		expect(tracker.roleOf(18582)).toBe('rcu');
		tracker.clear();
		expect(tracker.roleOf(18577)).toBe('unknown');
	});

	it('over the whole default MI transcript, with its own rules', () => {
		const tracker = new RoleTracker([...ROLE_RULES]);
		for (const round of transcriptRounds(new URL('default-gdb-mi-transcript.txt', FIXTURES))) {
			for (const t of round.threads) tracker.observe(t);
		}
		for (const [tid, role] of Object.entries(DEFAULT)) expect(tracker.roleOf(Number(tid))).toBe(role);
	});
});

describe('ROLE_LABELS', () => {
	it('labels every role', () => {
		expect(ROLES.map(r => ROLE_LABELS[r])).toEqual(['main loop', 'vCPU', 'worker', 'iothread', 'RCU', '?']);
	});
});
