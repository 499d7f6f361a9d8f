// Thread roles of a QEMU process, inferred from the thread name and the stack (DOMAIN.md sections 2 and 3).
// By default every QEMU thread is named after the process (NixOS VM tests run that way), so the stack has to
// do most of the work; with `-name X,debug-threads=on` the names settle it.

import type {Frame, ThreadStack} from './model.js';
import {baseName, isUnknown} from './model.js';

/** What a thread of a QEMU process does. 'unknown' when no rule matched. */
export type Role = 'main' | 'vcpu' | 'worker' | 'rcu' | 'iothread' | 'unknown';

/** Every role, in the order a thread list groups them. */
export const ROLES: readonly Role[] = ['main', 'vcpu', 'worker', 'iothread', 'rcu', 'unknown'];

/** Human labels for roles, for the thread list and exports. */
export const ROLE_LABELS: Readonly<Record<Role, string>> = {
	main: 'main loop',
	vcpu: 'vCPU',
	worker: 'worker',
	rcu: 'RCU',
	iothread: 'iothread',
	unknown: '?',
};

/**
One rule of the role table. Every matcher present must hold (a rule without matchers never matches):
`name` tests the thread name; `anyFunc` some frame's function name as gdb prints it; `anyLib` the base name
of some frame's shared object (`accel-tcg-x86_64.so`); `entry` the thread's entry function (see
`entryFunction`). `weight` says how telling a match is: 3 = certain (a name or a function only that kind of
thread runs), 2 = a shape seen on that kind of thread only, 1 = a good guess. `RoleTracker` keeps the best.
RegExps must not use the `g` or `y` flag (`test` would keep state between threads).
*/
export interface RoleRule {
	role: Exclude<Role, 'unknown'>;
	weight: 1 | 2 | 3;
	why: string;
	name?: RegExp;
	anyFunc?: RegExp;
	anyLib?: RegExp;
	entry?: RegExp;
}

// Matches exactly one of the function names.
function oneOf(...names: string[]): RegExp {
	return new RegExp(`^(?:${names.join('|')})$`);
}

// File syscalls a 9p or block request makes on a thread-pool worker (glibc spellings: __libc_pread64,
// __GI___libc_openat64, preadv64v2...).
const FILE_SYSCALL = new RegExp('^(?:__GI_)?_*(?:libc_)?(?:p(?:read|write)v?|openat|open|fstatat|newfstatat|'
	+ 'fstat|lstat|stat|statx|fsync|fdatasync|getdents|readlinkat|mkdirat|unlinkat|renameat2?|linkat|symlinkat|'
	+ 'mknodat|fchmodat|fchownat|utimensat|fallocate|ftruncate|fstatfs|statfs|[fl]getxattr|[fl]setxattr|'
	+ '[fl]listxattr|[fl]removexattr|copy_file_range)(?:64)?(?:v2)?(?:_nocancel)?$');

/**
The default role table, first match wins. Ordered so that certain evidence comes first: explicit names, then
functions only one kind of thread ever runs, then shapes, then guesses. Extend it for other programs by
putting rules in front: `inferRole(stack, [...myRules, ...ROLE_RULES])`.
*/
export const ROLE_RULES: readonly RoleRule[] = [
	// `-name X,debug-threads=on` names: "CPU 0/KVM", "CPU 1/TCG", "ALL CPUs/TCG" (round-robin TCG), "worker"
	// (util/thread-pool.c), "call_rcu" (util/rcu.c), "IO <id>" (iothread.c). The main thread and a racy RCU
	// thread keep the process name, which tells nothing.
	{role: 'vcpu', weight: 3, why: 'vCPU thread name', name: /^(?:CPU \d+|ALL CPUs)\//},
	{role: 'worker', weight: 3, why: 'thread-pool thread name', name: /^worker$/},
	{role: 'rcu', weight: 3, why: 'RCU thread name', name: /^call_rcu$/},
	{role: 'iothread', weight: 3, why: 'iothread name', name: /^IO /},
	// Only the main thread runs the process entry and the main loop (`main_loop_wait` is never called from
	// an iothread, which runs aio_poll). Names survive stripping: QEMU links with -rdynamic.
	{
		role: 'main', weight: 3, why: 'main loop or process entry',
		anyFunc: oneOf('_start', '__libc_start_main', '__libc_start_main_impl', '__libc_start_main_alias_2',
			'__libc_start_call_main', 'main', 'qemu_main', 'qemu_default_main', 'qemu_main_loop', 'main_loop_wait',
			'os_host_main_loop_wait'),
	},
	// vCPU threads: KVM (`kvm_vcpu_thread_fn` is static: `??` when stripped, but `kvm_cpu_exec` is global),
	// TCG (`tcg_cpus_exec`/`cpu_exec`, translated guest code shows as `code_gen_buffer` through gdb's JIT
	// interface), and the halted vCPU (`qemu_wait_io_event`), which all accelerators share.
	{
		role: 'vcpu', weight: 3, why: 'vCPU execution or halt loop',
		anyFunc: oneOf('kvm_vcpu_thread_fn', 'qemu_kvm_cpu_thread_fn', 'kvm_cpu_exec', 'qemu_wait_io_event',
			'qemu_wait_io_event_common', 'tcg_cpus_exec', 'tcg_cpu_exec', 'cpu_exec', 'cpu_exec_loop', 'cpu_exec_setjmp',
			'mttcg_cpu_thread_fn', 'rr_cpu_thread_fn', 'qemu_tcg_cpu_thread_fn', 'qemu_tcg_rr_cpu_thread_fn',
			'process_queued_cpu_work', 'code_gen_buffer', 'hvf_cpu_thread_fn', 'whpx_cpu_thread_fn', 'dummy_cpu_thread_fn'),
	},
	// Accelerators are loadable modules in distribution builds: any frame in accel-tcg-x86_64.so (even a `??`
	// one, e.g. a stripped mttcg_cpu_thread_fn above qemu_mutex_lock_iothread_impl) is a vCPU thread.
	{role: 'vcpu', weight: 3, why: 'frame in an accelerator module', anyLib: /^accel-/},
	{role: 'iothread', weight: 3, why: 'iothread loop', anyFunc: /^iothread_run$/},
	{role: 'worker', weight: 3, why: 'thread-pool worker', anyFunc: /^worker_thread$/},
	{role: 'rcu', weight: 3, why: 'RCU thread', anyFunc: /^call_rcu_thread$/},
	// Shapes of stripped stacks (static thread functions print as `??`, so the entry is the first named frame).
	// The pool's idle wait: worker_thread -> qemu_cond_timedwait (QEMU >= 7.1; the main thread and vCPUs
	// were matched above). The RCU thread's idle wait: call_rcu_thread -> qemu_event_wait. The two never look
	// alike: a timed condition wait vs an event (futex) wait.
	{role: 'worker', weight: 2, why: 'thread-pool idle wait', entry: /^qemu_cond_timedwait_impl$/},
	{role: 'rcu', weight: 2, why: 'RCU thread waiting for callbacks', entry: /^qemu_event_wait$/},
	{role: 'rcu', weight: 2, why: 'RCU grace period', anyFunc: /^synchronize_rcu$/},
	// An iothread polling its AioContext (iothread_run is static). The main thread also calls aio_poll, but it
	// was matched above by its root.
	{role: 'iothread', weight: 2, why: 'AioContext polling', anyFunc: /^aio_poll$/},
	// 9p coroutines: gdb cannot unwind past the coroutine switch, so the thread's root is missing. The fs
	// operations (v9fs_co_* and the file syscalls under them) run on pool workers (v9fs_co_run_in_worker).
	{role: 'worker', weight: 2, why: '9p file operation', anyFunc: /^v9fs_co_/},
	{role: 'worker', weight: 1, why: 'file syscall off the main thread', anyFunc: FILE_SYSCALL},
	// The rest of a 9p request (unmarshal, fid lookup, reply) runs on the main thread's AioContext.
	{role: 'main', weight: 1, why: '9p request coroutine', anyFunc: /^(?:v9fs_|pdu_)/},
	// call_rcu_thread between batches: g_usleep(10000), or malloc_trim before its event wait.
	{role: 'rcu', weight: 1, why: 'RCU thread between batches', entry: /^(?:g_usleep|malloc_trim)$/},
];

// Thread-creation glue below the function a thread was started for: libc's clone/start_thread and the
// process entry, QEMU's qemu_thread_start, glib's g_thread_proxy, and makecontext's __start_context.
const GLUE = /^(?:(?:__GI_)?_*(?:clone3?|start_thread|start|libc_start_main(?:_impl|_alias_\d+)?|libc_start_call_main|start_context)|qemu_thread_start|g_thread_proxy)$/;

/**
The function a thread runs, as far as the stack shows: the outermost frame that has a name and is not
thread-creation glue (clone, start_thread, `_start`, `__libc_start_main`, qemu_thread_start...). On a stripped
QEMU this skips the static thread functions (`??`) and lands on the first named call inside them:
`qemu_event_wait` for the RCU thread, `qemu_cond_timedwait_impl` for an idle worker. undefined when none.
*/
export function entryFunction(frames: readonly Frame[]): string | undefined {
	for (let i = frames.length - 1; i >= 0; i--) {
		const frame = frames[i]!;
		if (!isUnknown(frame) && !GLUE.test(frame.func)) return frame.func;
	}
	return undefined;
}

function ruleMatches(rule: RoleRule, stack: ThreadStack, entry: string | undefined): boolean {
	if (!rule.name && !rule.anyFunc && !rule.anyLib && !rule.entry) return false;
	if (rule.name && !rule.name.test(stack.name)) return false;
	if (rule.entry && (entry === undefined || !rule.entry.test(entry))) return false;
	const anyFunc = rule.anyFunc;
	if (anyFunc && !stack.frames.some(f => anyFunc.test(f.func))) return false;
	const anyLib = rule.anyLib;
	if (anyLib && !stack.frames.some(f => f.lib !== undefined && anyLib.test(baseName(f.lib)))) return false;
	return true;
}

/** The first rule of `rules` that matches the thread's name and stack, or undefined. */
export function matchRoleRule(stack: ThreadStack, rules: readonly RoleRule[] = ROLE_RULES): RoleRule | undefined {
	const entry = entryFunction(stack.frames);
	return rules.find(rule => ruleMatches(rule, stack, entry));
}

/** The role of a thread from one sample of it: the first matching rule's role, else 'unknown'. */
export function inferRole(stack: ThreadStack, rules: readonly RoleRule[] = ROLE_RULES): Role {
	return matchRoleRule(stack, rules)?.role ?? 'unknown';
}

interface Evidence {
	weight: number;
	count: number;
}

/**
Per-thread roles over many samples. One sample can be less telling than another (a worker blocked on a lock
with a stripped stack says nothing; the same worker idle says 'worker'), so each TID keeps the role of its
most telling match: highest rule weight, then the role more samples gave at that weight, then the role seen
first. 'unknown' never replaces a known role. Call `retain` with the live TIDs each sample: worker TIDs churn and the kernel reuses TIDs.
*/
export class RoleTracker {
	readonly #rules: readonly RoleRule[];
	readonly #byTid = new Map<number, Map<Role, Evidence>>();

	constructor(rules: readonly RoleRule[] = ROLE_RULES) {
		this.#rules = rules;
	}

	/** Record one sample of a thread and return its role so far. */
	observe(stack: ThreadStack): Role {
		const rule = matchRoleRule(stack, this.#rules);
		let seen = this.#byTid.get(stack.tid);
		if (!seen) {
			seen = new Map();
			this.#byTid.set(stack.tid, seen);
		}
		if (rule) {
			const evidence = seen.get(rule.role);
			if (!evidence || rule.weight > evidence.weight) seen.set(rule.role, {weight: rule.weight, count: 1});
			else if (rule.weight === evidence.weight) evidence.count++;
		}
		return this.roleOf(stack.tid);
	}

	/** The best role seen for a TID, 'unknown' when none (or the TID was never observed). */
	roleOf(tid: number): Role {
		let best: Role = 'unknown';
		let bestWeight = 0;
		let bestCount = 0;
		for (const [role, {weight, count}] of this.#byTid.get(tid) ?? []) {
			if (weight > bestWeight || (weight === bestWeight && count > bestCount)) {
				best = role;
				bestWeight = weight;
				bestCount = count;
			}
		}
		return best;
	}

	/** Forget every TID not in `tids` (threads that exited). */
	retain(tids: Iterable<number>): void {
		const live = new Set(tids);
		for (const tid of this.#byTid.keys()) if (!live.has(tid)) this.#byTid.delete(tid);
	}

	/** Forget everything. */
	clear(): void {
		this.#byTid.clear();
	}
}
