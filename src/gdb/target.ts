// Facts about the target process from /proc, and the one-line explanations of attach failures.

import {readdirSync, readFileSync, readlinkSync, statSync} from 'node:fs';

/** True while /proc/PID exists and the process is not a zombie. */
export function processExists(pid: number, root = '/proc'): boolean {
	try {
		const stat = readFileSync(`${root}/${pid}/stat`, 'utf8');
		return stateOf(stat) !== 'Z' && stateOf(stat) !== 'X';
	} catch {
		return false;
	}
}

/** The state letter of a /proc/PID/stat line (comm may contain spaces and parentheses: parse after the last `)`). */
export function stateOf(stat: string): string {
	const i = stat.lastIndexOf(')');
	return stat.slice(i + 2, i + 3);
}

/** Send SIGCONT to the target: harmless when it runs, the cure when a gdb left it job-stopped. */
export function continueTarget(pid: number): void {
	try {
		process.kill(pid, 'SIGCONT');
	} catch {}
}

/**
SIGCONT now, and again over the next seconds whenever a thread is job-stopped: a thread that sat in a SIGSTOP
signal-stop when its gdb died delivers that stop after the kernel detaches it, which may be after the first
SIGCONT. Only when stopped: a SIGCONT discards pending SIGSTOPs, and those may belong to the next gdb by then.
*/
export function continueTargetRepeatedly(pid: number): void {
	continueTarget(pid);
	for (const ms of [20, 50, 100, 150, 200, 300, 500, 800, 1300, 2000, 3000, 4000]) {
		setTimeout(() => {
			if (anyThreadIn(pid, 'T')) continueTarget(pid);
		}, ms).unref();
	}
}

/** True when a thread of the process is in this state: `T` job-stopped, `t` held by its tracer. */
export function anyThreadIn(pid: number, state: string): boolean {
	return [...threadStates(pid).values()].includes(state);
}

/** Each thread's state letter, from /proc/PID/task/TID/stat. */
export function threadStates(pid: number): Map<number, string> {
	const states = new Map<number, string>();
	let tids: string[] = [];
	try {
		tids = readdirSync(`/proc/${pid}/task`);
	} catch {}
	for (const tid of tids) {
		try {
			states.set(Number(tid), stateOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
		} catch {}
	}
	return states;
}

/** The process's command line, NUL-separated arguments joined by spaces; '' when unreadable. */
export function commandLine(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
	} catch {
		return '';
	}
}

/** A field of /proc/PID/status (`TracerPid`, `Uid`, `NSpid`...), or undefined. */
export function statusField(pid: number | 'self', field: string, root = '/proc'): string | undefined {
	try {
		const text = readFileSync(`${root}/${pid}/status`, 'utf8');
		const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text);
		return m?.[1]?.trim();
	} catch {
		return undefined;
	}
}

/** True when the target lives in a PID namespace other than ours (gdb then warns its thread list is unreliable). */
export function inOtherPidNamespace(pid: number, root = '/proc'): boolean {
	try {
		return readlinkSync(`${root}/self/ns/pid`) !== readlinkSync(`${root}/${pid}/ns/pid`);
	} catch {
		return false;
	}
}

/** The value of /proc/sys/kernel/yama/ptrace_scope, or undefined when Yama is absent. */
export function ptraceScope(root = '/proc'): number | undefined {
	try {
		return Number(readFileSync(`${root}/sys/kernel/yama/ptrace_scope`, 'utf8').trim());
	} catch {
		return undefined;
	}
}

/** What a kernel.yama.ptrace_scope value allows, in words. */
export function ptraceScopeMeaning(scope: number): string {
	if (scope <= 0) return 'classic ptrace permissions';
	if (scope === 1) return 'only a debugger\'s own descendants may be traced';
	if (scope === 2) return 'only CAP_SYS_PTRACE may trace';
	return 'no process may be traced, not even by root';
}

/** CAP_SYS_PTRACE's bit in the capability masks of /proc/PID/status (linux/capability.h). */
const CAP_SYS_PTRACE = 19n;

/** True when the effective capabilities (`CapEff:` of /proc/PID/status, hex) hold CAP_SYS_PTRACE; undefined when unreadable. */
export function hasCapSysPtrace(pid: number | 'self' = 'self', root = '/proc'): boolean | undefined {
	const hex = statusField(pid, 'CapEff', root);
	if (hex === undefined || !/^[0-9a-f]+$/i.test(hex)) return undefined;
	return ((BigInt(`0x${hex}`) >> CAP_SYS_PTRACE) & 1n) === 1n;
}

/** The real uid of a process (first field of `Uid:` in /proc/PID/status), or undefined. */
export function uidOf(pid: number | 'self', root = '/proc'): number | undefined {
	const field = statusField(pid, 'Uid', root)?.split(/\s+/)[0];
	return field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
}

/** The login name of a uid from a passwd file, or undefined. */
export function userName(uid: number, passwdPath = '/etc/passwd'): string | undefined {
	try {
		for (const line of readFileSync(passwdPath, 'utf8').split('\n')) {
			const fields = line.split(':');
			if (fields.length >= 3 && fields[2] === String(uid) && fields[0]) return fields[0];
		}
	} catch {}
	return undefined;
}

/**
What describeAttachFailure knows about the debugger side. Anything left out is read from the system: `uid` from
process.getuid(), `capSysPtrace` from `ROOT/self/status`, `passwdPath` /etc/passwd. `nsenter`: gdb was started
under the nsenter prefix (its errors then may come from nsenter).
*/
export interface AttachContext {
	uid?: number;
	capSysPtrace?: boolean;
	passwdPath?: string;
	nsenter?: boolean;
	/** The gdb executable as given (--gdb), for messages. */
	gdbPath?: string;
}

/**
Turn gdb's attach error into one line saying why and what to do: gdb missing, nsenter failures, no such process,
already traced (TracerPid, with the tracer's comm), not permitted (uid, CAP_SYS_PTRACE, ptrace_scope with its
value, a non-dumpable target). `root` lets tests point at a fake /proc; `context` describes the debugger side.
*/
export function describeAttachFailure(pid: number, gdbMessage: string, root = '/proc', context: AttachContext = {}): string {
	const gdb = context.gdbPath ?? 'gdb';
	const nsenterFailed = /nsenter: (?:failed to execute|cannot open|reassociate|setns|.*Operation not permitted)/.exec(gdbMessage);
	if (nsenterFailed) {
		if (/failed to execute .*(No such file|not found)/.test(gdbMessage)) return `${gdb} is not visible inside PID ${pid}'s mount namespace (nsenter could not run it): run without --nsenter, or give --gdb a path that exists in there`;
		return `nsenter could not enter PID ${pid}'s namespaces (${gdbMessage.trim().split('\n')[0]}): run as root (CAP_SYS_ADMIN), or without --nsenter`;
	}
	if (/nsenter/.test(gdbMessage) && /not found|No such file/.test(gdbMessage)) return 'nsenter not found: install util-linux, or run without --nsenter';
	if (/not found|No such file or directory|ENOENT/.test(gdbMessage) && /gdb/.test(gdbMessage)) {
		if (context.nsenter) return `${gdb} not found inside PID ${pid}'s mount namespace: run without --nsenter, or give --gdb a path that exists in there`;
		return gdb === 'gdb' ? 'gdb is not installed (install it: apt-get install gdb)' : `${gdb} not found: install gdb (apt-get install gdb) or fix --gdb`;
	}
	let exists = true;
	try {
		statSync(`${root}/${pid}`);
	} catch {
		exists = false;
	}
	if (!exists || (/No such process/.test(gdbMessage) && !context.nsenter)) return `no process with PID ${pid}`;
	if (/No such process/.test(gdbMessage)) return `gdb inside PID ${pid}'s namespace found no such process: attach to its namespace PID (last NSpid entry of /proc/${pid}/status)`;
	const tracer = Number(statusField(pid, 'TracerPid', root) ?? '0');
	if (tracer > 0) {
		const name = readComm(tracer, root);
		return `PID ${pid} is already traced by PID ${tracer}${name ? ` (${name})` : ''}: detach that debugger or strace first`;
	}
	if (/not permitted|EPERM|EACCES|Permission denied/i.test(gdbMessage)) return notPermitted(pid, root, context);
	return `cannot attach to PID ${pid}: ${gdbMessage.trim().split('\n')[0]}`;
}

// EPERM from ptrace(PTRACE_ATTACH): name every cause that applies, each with its remedy.
function notPermitted(pid: number, root: string, context: AttachContext): string {
	const scope = ptraceScope(root);
	const targetUid = uidOf(pid, root);
	const myUid = context.uid ?? process.getuid?.();
	const cap = context.capSysPtrace ?? hasCapSysPtrace('self', root) ?? myUid === 0;
	const who = (uid: number): string => {
		const name = userName(uid, context.passwdPath);
		return name ? `uid ${uid} (${name})` : `uid ${uid}`;
	};
	const parts = [`not permitted to ptrace PID ${pid}`];
	if (scope !== undefined && scope >= 3) {
		parts.push(`kernel.yama.ptrace_scope=3 (${ptraceScopeMeaning(3)}): it cannot be lowered until a reboot`);
		return parts.join('; ');
	}
	if (scope !== undefined && scope > 0 && !cap) {
		parts.push(`kernel.yama.ptrace_scope=${scope} (${ptraceScopeMeaning(scope)}): run as root (CAP_SYS_PTRACE)${scope === 1 ? ' or set it to 0: sysctl kernel.yama.ptrace_scope=0' : ''}`);
	}
	if (!cap && myUid === 0) parts.push('you are root without CAP_SYS_PTRACE (a container?): add the capability (docker run --cap-add SYS_PTRACE)');
	if (!cap && myUid !== 0 && targetUid !== undefined && myUid !== undefined && targetUid !== myUid) {
		parts.push(`it runs as ${who(targetUid)}, you are ${who(myUid)}: run as root (sudo) or as that user`);
	}
	if (parts.length === 1 && !cap && targetUid !== undefined && targetUid === myUid && myUid !== 0 && ownerOf(`${root}/${pid}/status`) === 0) {
		// The files in /proc/PID of a non-dumpable process belong to root whatever its uid (measured: status, stat).
		parts.push('it is not dumpable (it changed credentials or set PR_SET_DUMPABLE 0): run as root');
	}
	if (parts.length === 1) {
		parts.push(cap
			? 'even with CAP_SYS_PTRACE: a security module (AppArmor, SELinux), seccomp or a container forbids it'
			: 'run as root (CAP_SYS_PTRACE)');
	}
	return parts.join('; ');
}

function ownerOf(path: string): number | undefined {
	try {
		return statSync(path).uid;
	} catch {
		return undefined;
	}
}

function readComm(pid: number, root: string): string {
	try {
		return readFileSync(`${root}/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}
