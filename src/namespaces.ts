// PID namespaces: is the target in another one, what is its PID there, and how to run gdb inside it (`--nsenter`).
// NixOS test VMs run in the Nix build sandbox's own PID namespace. gdb attached from outside warns "Target and
// debugger are in different PID namespaces; thread lists and other data are likely unreliable"; gdb started with
// `nsenter -t PID -p -m` runs in the target's PID *and* mount namespaces and attaches to the namespace-local PID.
// Without `-m` gdb sees the namespace's PIDs but the host's /proc: measured here it then read the wrong
// /proc/1, hung spinning and left the target in tracing stop. So the mount namespace is entered too, and
// nsenterProblems() checks that the target's /proc really is its PID namespace's and that gdb exists in there.

import {accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs';
import {delimiter, dirname, isAbsolute, join} from 'node:path';
import {inOtherPidNamespace, statusField} from './gdb/target.js';
import {parseStat} from './procio/parse.js';

/** Parse the value of a status `NSpid:` line (`4242\t7`): the PID in each namespace, outermost first. */
export function parseNsPid(value: string | undefined): number[] {
	if (value === undefined) return [];
	const pids = value.trim().split(/\s+/).filter(Boolean).map(Number);
	return pids.every(p => Number.isInteger(p) && p > 0) ? pids : [];
}

/**
The PIDs of a process (or thread) in each PID namespace from the one of the /proc mount down to its own, from
`/proc/PID/status` `NSpid:` (Linux 4.1+). Empty when unreadable or absent.
*/
export function nsPids(pid: number | 'self', root = '/proc'): number[] {
	return parseNsPid(statusField(pid, 'NSpid', root));
}

/**
The PID the process has in its own PID namespace (the last `NSpid` entry): the PID a gdb started inside that
namespace (`nsenter -t PID -p -m`) must attach to. Falls back to `pid` when NSpid is unreadable.
*/
export function namespacePid(pid: number, root = '/proc'): number {
	const pids = nsPids(pid, root);
	return pids.length > 0 ? pids[pids.length - 1]! : pid;
}

/** Where a target lives, PID-namespace-wise. `innerPid` is its PID in its own namespace (= pid when the same). */
export interface TargetNamespace {
	/** True when the target's PID namespace is not ours. */
	other: boolean;
	/** Its PID inside its own namespace. */
	innerPid: number;
}

/**
Whether the target is in another PID namespace and its PID there. Compares the `ns/pid` links (needs ptrace
read access, i.e. root or the same uid) and, as a fallback readable by anyone, the depth of `NSpid`.
*/
export function targetNamespace(pid: number, root = '/proc'): TargetNamespace {
	const theirs = nsPids(pid, root);
	const ours = nsPids('self', root);
	const deeper = theirs.length > 0 && ours.length > 0 && theirs.length > ours.length;
	const other = inOtherPidNamespace(pid, root) || deeper;
	return {other, innerPid: other && theirs.length > 0 ? theirs[theirs.length - 1]! : pid};
}

/**
The header note for a target in another PID namespace, or undefined when it shares ours. With `nsenter` (gdb
already runs inside) the note says so instead of suggesting it.
*/
export function pidNamespaceNote(pid: number, options: {root?: string; nsenter?: boolean} = {}): string | undefined {
	const root = options.root ?? '/proc';
	const ns = targetNamespace(pid, root);
	if (!ns.other) return undefined;
	const inner = ns.innerPid !== pid ? String(ns.innerPid) : 'unknown';
	if (options.nsenter) return `PID ${pid} is in another PID namespace: gdb runs inside it (nsenter) and attaches to PID ${inner} there`;
	return `PID ${pid} is in another PID namespace (its PID there: ${inner}); gdb's thread list may be unreliable: try --nsenter`;
}

/** The full path of `command` on PATH (or `command` itself when it holds a `/` and is executable), or undefined. */
export function findOnPath(command: string, pathEnv = process.env.PATH ?? ''): string | undefined {
	const candidates = command.includes('/') ? [command] : pathEnv.split(delimiter).filter(Boolean).map(dir => join(dir, command));
	return candidates.find(path => {
		try {
			accessSync(path, constants.X_OK);
			return true;
		} catch {
			return false;
		}
	});
}

/** nsenter is missing or unusable; the message is one line saying what to do. */
export class NsenterError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'NsenterError';
	}
}

/**
The command prefix that runs gdb in the target's PID and mount namespaces:
`['nsenter', '-t', PID, '-p', '-m', '--']`. gdb must then attach to namespacePid(pid), and the thread IDs it
reports are namespace-local (see innerToOuterTids). Throws NsenterError when nsenter (util-linux) is not on PATH.
*/
export function nsenterPrefix(pid: number, options: {pathEnv?: string} = {}): string[] {
	if (!findOnPath('nsenter', options.pathEnv)) throw new NsenterError('nsenter not found: install util-linux (Debian: apt-get install util-linux) or run without --nsenter');
	return ['nsenter', '-t', String(pid), '-p', '-m', '--'];
}

/**
What stands in the way of `--nsenter` for this target, one line each (empty: go ahead): nsenter missing; the
target's mount namespace unreadable (not root); its /proc not showing its own PID namespace (gdb inside would
read other processes' files: it hung here and left the target stopped); gdb not found inside its mount
namespace (e.g. a Nix build sandbox holding only the build's inputs). `gdb` is pmptop's --gdb value.
*/
export function nsenterProblems(pid: number, options: {gdb?: string; root?: string; pathEnv?: string} = {}): string[] {
	const root = options.root ?? '/proc';
	const gdb = options.gdb ?? 'gdb';
	const pathEnv = options.pathEnv ?? process.env.PATH ?? '';
	const problems: string[] = [];
	if (!findOnPath('nsenter', pathEnv)) problems.push('nsenter not found: install util-linux (Debian: apt-get install util-linux)');
	const inner = namespacePid(pid, root);
	const targetRoot = `${root}/${pid}/root`;
	let ownStat: string;
	try {
		ownStat = readFileSync(`${root}/${pid}/stat`, 'utf8');
	} catch {
		return [...problems, `no process with PID ${pid}`];
	}
	try {
		readdirSync(`${targetRoot}/`);
	} catch {
		return [...problems, `cannot look into PID ${pid}'s mount namespace (${targetRoot}): --nsenter needs root`];
	}
	let innerStat: string | undefined;
	try {
		innerStat = readFileSync(`${targetRoot}/proc/${inner}/stat`, 'utf8');
	} catch {}
	if (!sameProcess(ownStat, innerStat)) {
		problems.push(`the /proc inside PID ${pid}'s mount namespace does not show it as PID ${inner}: gdb started there would read other processes' files; run without --nsenter`);
	}
	if (!existsInRoot(targetRoot, gdb, pathEnv)) {
		problems.push(`${gdb} is not visible inside PID ${pid}'s mount namespace: run without --nsenter, or give --gdb a path that exists in there`);
	}
	return problems;
}

// Same process: same comm and start time (the PID differs by namespace; start time is in ticks since boot).
function sameProcess(a: string, b: string | undefined): boolean {
	if (b === undefined) return false;
	const x = parseStat(a);
	const y = parseStat(b);
	return x.ok && y.ok && x.value.comm === y.value.comm && x.value.startTimeTicks === y.value.startTimeTicks;
}

// Best effort: does `command` (a path, or a name looked up on PATH) exist under another process's root? Symlinks
// of the last component are followed in that root's coordinates (the kernel would resolve absolute ones against ours).
function existsInRoot(targetRoot: string, command: string, pathEnv: string): boolean {
	const candidates = command.includes('/') ? [command] : pathEnv.split(delimiter).filter(d => isAbsolute(d)).map(dir => join(dir, command));
	return candidates.some(path => {
		if (!isAbsolute(path)) return false;
		let current = path;
		for (let hop = 0; hop < 16; hop++) {
			const full = join(targetRoot, current);
			try {
				const st = lstatSync(full);
				if (!st.isSymbolicLink()) return st.isFile();
				const link = readlinkSync(full);
				current = isAbsolute(link) ? link : join(dirname(current), link);
			} catch {
				return false;
			}
		}
		return false;
	});
}

/**
Map the thread IDs a gdb inside the target's namespace reports (its LWPs: 1, 2, ...) to the host TIDs of
`/proc/PID/task/` (what the /proc I/O readers and SIGSTOP use). Built from each task's `NSpid`; empty when
unreadable. Threads come and go: rebuild it when an unknown LWP shows up.
*/
export function innerToOuterTids(pid: number, root = '/proc'): Map<number, number> {
	const map = new Map<number, number>();
	let tids: string[] = [];
	try {
		tids = readdirSync(`${root}/${pid}/task`);
	} catch {}
	for (const tid of tids) {
		const pids = parseNsPid(statusField(Number(tid), 'NSpid', `${root}/${pid}/task`));
		if (pids.length > 0) map.set(pids[pids.length - 1]!, Number(tid));
	}
	return map;
}

/**
Follow the chain of only children from `pid` (itself included) down (`/proc/PID/task/PID/children`) to the first
process that `isTarget` accepts: `{pid, found: true}`; else the chain's last process, `found: false`. With the nsenter
prefix gdb is not the wrapper's child but nsenter's (nsenter forks for `-p`, and it does not pass signals on:
measured here, SIGTERM to nsenter left its child running), so whatever must signal gdb itself has to go one level
further down; and no further than gdb, which forks short-lived children of its own.
*/
export function chainTo(pid: number, isTarget: (pid: number) => boolean, root = '/proc'): {pid: number; found: boolean} {
	let current = pid;
	for (let depth = 0; depth < 8; depth++) {
		if (isTarget(current)) return {pid: current, found: true};
		let children: string[];
		try {
			children = readFileSync(`${root}/${current}/task/${current}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
		} catch {
			break;
		}
		if (children.length !== 1) break;
		current = Number(children[0]);
	}
	return {pid: current, found: false};
}
