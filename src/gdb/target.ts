// Facts about the target process from /proc, and the one-line explanations of attach failures.

import {readdirSync, readFileSync, readlinkSync, statSync} from 'node:fs';

/** True while /proc/PID exists and the process is not a zombie. */
export function processExists(pid: number): boolean {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
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

/**
Turn gdb's attach error into one line saying why and what to do: no such process, not permitted (uid,
CAP_SYS_PTRACE, ptrace_scope with its value), already traced (TracerPid), gdb missing.
`root` lets tests point at a fake /proc.
*/
export function describeAttachFailure(pid: number, gdbMessage: string, root = '/proc'): string {
	if (/not found/.test(gdbMessage) && /gdb/.test(gdbMessage)) return `gdb is not installed (install it: apt-get install gdb)`;
	let exists = true;
	try {
		statSync(`${root}/${pid}`);
	} catch {
		exists = false;
	}
	if (!exists || /No such process/.test(gdbMessage)) return `no process with PID ${pid}`;
	const tracer = Number(statusField(pid, 'TracerPid', root) ?? '0');
	if (tracer > 0) {
		const name = readComm(tracer, root);
		return `PID ${pid} is already traced by PID ${tracer}${name ? ` (${name})` : ''}: detach that debugger or strace first`;
	}
	if (/not permitted|EPERM/i.test(gdbMessage)) {
		const scope = ptraceScope(root);
		const targetUid = (statusField(pid, 'Uid', root) ?? '').split(/\s+/)[0];
		const myUid = process.getuid?.();
		const parts = [`not permitted to ptrace PID ${pid}`];
		if (targetUid !== undefined && myUid !== undefined && targetUid !== String(myUid)) parts.push(`it runs as uid ${targetUid}, you are uid ${myUid}: run as root or that user`);
		if (scope !== undefined && scope > 0) {
			const meaning = scope === 1 ? 'only descendants may be traced' : scope === 2 ? 'only CAP_SYS_PTRACE may trace' : 'no process may be traced';
			parts.push(`kernel.yama.ptrace_scope=${scope} (${meaning}): run as root with CAP_SYS_PTRACE${scope < 3 ? ' or set it to 0 with sysctl kernel.yama.ptrace_scope=0' : ''}`);
		}
		if (parts.length === 1) parts.push(myUid === 0 ? 'even root may not: the process is not dumpable or a security module (or a container without CAP_SYS_PTRACE) forbids it' : 'run as root (CAP_SYS_PTRACE)');
		return parts.join('; ');
	}
	return `cannot attach to PID ${pid}: ${gdbMessage.trim().split('\n')[0]}`;
}

function readComm(pid: number, root: string): string {
	try {
		return readFileSync(`${root}/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}
