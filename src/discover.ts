// Finding QEMU processes in /proc: for `pmptop` without --pid (one: attach, several: the picker), --list and
// --match, and the "this PID does not look like QEMU" note. Reads /proc synchronously: it runs once, at startup.
//
// A process is QEMU when any of these names is `qemu-system-*` or `qemu-kvm`: the basename of /proc/PID/exe (root
// or the same uid only; ` (deleted)` after an upgrade), the comm (anyone; truncated to 15 characters:
// `qemu-system-x86`; `-name ...,process=X` renames it), or the basename of argv[0] (anyone; `exec -a` changes it).
// Nix wrappers (`.qemu-system-x86_64-wrapped`) count too. qemu-img, qemu-nbd, qemu-x86_64 (user mode) do not.

import {execFileSync} from 'node:child_process';
import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import {statusField, uidOf, userName} from './gdb/target.js';
import {pidNamespaceNote, targetNamespace} from './namespaces.js';
import {parseCmdline, parseStat} from './procio/parse.js';
import {parseQemuOptionValue, parseShares, qemuOptions} from './procio/shares.js';
import {sanitize} from './profile/model.js';

/** One running QEMU process, as the picker and `--list` show it. Strings are sanitized for display. */
export interface QemuProcess {
	pid: number;
	/** The VM name from `-name` (`guest=` or the leading value), undefined without one. */
	name?: string;
	/** `debug-threads=on` in `-name`: threads are named (`CPU 0/KVM`, `worker`); otherwise all share the process name. */
	debugThreads: boolean;
	/** Seconds since the process started, as of the listing; NaN when unknown. */
	uptimeS: number;
	/** When it started, in ms since the epoch (listing time minus uptime); NaN when unknown. */
	startedAtMs: number;
	/** Threads in /proc/PID/task. */
	threads: number;
	/** 9p mount tags from the command line (parseShares), in command-line order. */
	tags: string[];
	/** vhost-user-fs (virtiofs) tags: served by virtiofsd, not by this process. */
	virtiofsTags: string[];
	/** Real uid, and its login name when /etc/passwd has it. */
	uid?: number;
	user?: string;
	/** The process comm (/proc/PID/comm, at most 15 characters). */
	comm: string;
	/** The QEMU binary's name (`qemu-system-x86_64`), from the exe, argv[0] or comm, whichever matched first. */
	binary: string;
	/** Which names matched: any of exe, comm, argv0. */
	matchedBy: Array<'exe' | 'comm' | 'argv0'>;
	/** The command line, unsanitized (for matching); display it through `sanitize`. */
	argv: string[];
	/** Its PID in its own PID namespace when that is not ours (a Nix build sandbox, a container). */
	nsPid?: number;
}

/** Where to read from. `procRoot` (default /proc) lets tests use a fake tree; `nowMs` fixes the clock. */
export interface DiscoverOptions {
	procRoot?: string;
	nowMs?: number;
	/** Clock ticks per second of /proc/PID/stat times; default `getconf CLK_TCK` (100 when that fails). */
	clockTicks?: number;
	/** passwd file for user names; default /etc/passwd. */
	passwdPath?: string;
}

/**
The QEMU binary name a process name stands for, or undefined: `qemu-system-<arch>` (also a comm truncated to
`qemu-system-x86`) or `qemu-kvm`, after removing a directory, ` (deleted)` and Nix's `.NAME-wrapped`.
*/
export function qemuBinaryName(name: string): string | undefined {
	let base = name.replace(/ \(deleted\)$/, '');
	base = base.slice(base.lastIndexOf('/') + 1);
	base = base.replace(/^\.(.*)-wrapped$/, '$1').replace(/^\./, '');
	return /^qemu-system-[A-Za-z0-9_.-]*$/.test(base) || base === 'qemu-kvm' ? base : undefined;
}

/**
The VM name and debug-threads setting from a QEMU argv: `-name foo`, `-name guest=foo,debug-threads=on`,
`-name foo,debug-threads=on`, `--name ...`, `,,` for a literal comma. The last `-name` wins, as in QEMU.
*/
export function parseVmName(argv: readonly string[]): {name?: string; debugThreads: boolean} {
	const all = qemuOptions(argv, new Set(['name']));
	const last = all[all.length - 1];
	if (!last) return {debugThreads: false};
	const option = parseQemuOptionValue(last[1]);
	const raw = option.props.get('guest') ?? option.head;
	const threads = option.props.get('debug-threads')?.toLowerCase();
	return {
		name: raw === undefined || raw === '' ? undefined : sanitize(raw),
		debugThreads: threads !== undefined && ['on', 'yes', 'true', 'y'].includes(threads),
	};
}

let cachedTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, read once; 100, the Linux value everywhere, when it fails). */
export function clockTicksPerSecond(): number {
	if (cachedTicks === undefined) {
		try {
			const value = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8', timeout: 2000}).trim());
			cachedTicks = Number.isInteger(value) && value > 0 ? value : 100;
		} catch {
			cachedTicks = 100;
		}
	}
	return cachedTicks;
}

function readText(path: string): string | undefined {
	try {
		return readFileSync(path, 'latin1');
	} catch {
		return undefined;
	}
}

/**
Read one process and return it when it is QEMU (see qemuBinaryName), undefined otherwise (or when it is gone
or a zombie). Unreadable details stay empty rather than failing the whole entry.
*/
export function readQemuProcess(pid: number, options: DiscoverOptions = {}): QemuProcess | undefined {
	const root = options.procRoot ?? '/proc';
	const statText = readText(`${root}/${pid}/stat`);
	if (statText === undefined) return undefined;
	const stat = parseStat(statText);
	if (!stat.ok || stat.value.state === 'Z' || stat.value.state === 'X') return undefined;
	const argv = parseCmdline(readText(`${root}/${pid}/cmdline`) ?? '');
	let exe: string | undefined;
	try {
		exe = readlinkSync(`${root}/${pid}/exe`);
	} catch {}
	const comm = (readText(`${root}/${pid}/comm`) ?? stat.value.comm).replace(/\n$/, '');
	const names: Array<['exe' | 'comm' | 'argv0', string | undefined]> = [['exe', exe], ['argv0', argv[0]], ['comm', comm]];
	const matchedBy: QemuProcess['matchedBy'] = [];
	let binary: string | undefined;
	for (const [how, value] of names) {
		const hit = value === undefined ? undefined : qemuBinaryName(value);
		if (hit === undefined) continue;
		matchedBy.push(how);
		// A comm is cut to 15 characters: prefer the exe's or argv[0]'s full name.
		binary ??= hit;
	}
	if (binary === undefined) return undefined;

	const ticks = options.clockTicks ?? clockTicksPerSecond();
	const nowMs = options.nowMs ?? Date.now();
	const bootUptimeS = Number((readText(`${root}/uptime`) ?? '').split(/\s+/)[0]);
	const uptimeS = Number.isFinite(bootUptimeS) && bootUptimeS > 0 ? Math.max(0, bootUptimeS - stat.value.startTimeTicks / ticks) : Number.NaN;
	let threads = stat.value.numThreads;
	try {
		threads = readdirSync(`${root}/${pid}/task`).filter(t => /^\d+$/.test(t)).length || threads;
	} catch {}
	const {name, debugThreads} = parseVmName(argv);
	const shares = parseShares(argv);
	const uid = uidOf(pid, root);
	const ns = targetNamespace(pid, root);
	return {
		pid,
		name,
		debugThreads,
		uptimeS,
		startedAtMs: nowMs - uptimeS * 1000,
		threads,
		tags: shares.shares.map(s => s.tag),
		virtiofsTags: shares.virtiofsTags,
		uid,
		user: uid === undefined ? undefined : userName(uid, options.passwdPath),
		comm: sanitize(comm),
		binary: sanitize(binary),
		matchedBy,
		argv,
		nsPid: ns.other ? ns.innerPid : undefined,
	};
}

/** Every running QEMU process under `procRoot`, by PID. pmptop itself is never one. */
export function listQemuProcesses(options: DiscoverOptions = {}): QemuProcess[] {
	const root = options.procRoot ?? '/proc';
	let entries: string[] = [];
	try {
		entries = readdirSync(root);
	} catch {
		return [];
	}
	const nowMs = options.nowMs ?? Date.now();
	return entries
		.filter(e => /^\d+$/.test(e))
		.map(Number)
		.filter(pid => pid !== process.pid || root !== '/proc')
		.sort((a, b) => a - b)
		.map(pid => readQemuProcess(pid, {...options, nowMs}))
		.filter((p): p is QemuProcess => p !== undefined);
}

/**
The processes `--match TEXT` chooses: a PID equal to TEXT; else the VMs named exactly TEXT; else those whose
name or command line contains TEXT (case-insensitive). Empty TEXT matches all.
*/
export function matchQemu(list: readonly QemuProcess[], text: string): QemuProcess[] {
	const wanted = text.trim();
	if (wanted === '') return [...list];
	if (/^\d+$/.test(wanted)) {
		const byPid = list.filter(p => p.pid === Number(wanted));
		if (byPid.length > 0) return byPid;
	}
	const exact = list.filter(p => p.name === wanted);
	if (exact.length > 0) return exact;
	const lower = wanted.toLowerCase();
	return list.filter(p => (p.name ?? '').toLowerCase().includes(lower) || p.argv.join(' ').toLowerCase().includes(lower));
}

/** An uptime in a few characters: `42s`, `12m05s`, `3h04m`, `2d03h`; `-` when unknown. */
export function formatUptime(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return '-';
	const s = Math.floor(seconds);
	const two = (n: number): string => String(n).padStart(2, '0');
	if (s < 60) return `${s}s`;
	if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
	if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
	return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** The user column: login name, else the uid, else `?`. */
export function userLabel(p: QemuProcess): string {
	return p.user ?? (p.uid === undefined ? '?' : String(p.uid));
}

/** The tags column: 9p tags joined by commas, virtiofs tags as `virtiofs:TAG`; `-` when none. */
export function tagsLabel(p: QemuProcess): string {
	const all = [...p.tags, ...p.virtiofsTags.map(t => `virtiofs:${t}`)];
	return all.length > 0 ? all.join(',') : '-';
}

/** The message when no QEMU process runs. */
export const NO_QEMU_MESSAGE = 'no QEMU process found; try pmptop --demo to see pmptop on the bundled demo target, or --pid PID';

/**
The `--list` output: a plain table (PID, USER, UPTIME, THREADS, DEBUG-THREADS, NAME, 9P TAGS, and the PID in its
own namespace when that differs) ending in a newline, or NO_QEMU_MESSAGE alone on a line when the list is empty.
*/
export function formatQemuList(list: readonly QemuProcess[]): string {
	if (list.length === 0) return `${NO_QEMU_MESSAGE}\n`;
	const header = ['PID', 'USER', 'UPTIME', 'THREADS', 'DEBUG-THREADS', 'NAME', '9P TAGS', 'NS PID'];
	const showNs = list.some(p => p.nsPid !== undefined);
	const rows = list.map(p => [
		String(p.pid),
		userLabel(p),
		formatUptime(p.uptimeS),
		String(p.threads),
		p.debugThreads ? 'on' : 'off',
		p.name ?? '-',
		tagsLabel(p),
		p.nsPid === undefined ? '-' : String(p.nsPid),
	]);
	const columns = showNs ? header.length : header.length - 1;
	const right = new Set([0, 2, 3, 7]);
	const widths = Array.from({length: columns}, (_, i) => Math.max(header[i]!.length, ...rows.map(r => r[i]!.length)));
	const line = (cells: string[]): string => cells.slice(0, columns).map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
	return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** What to do with the QEMU processes found: attach to one, show the picker, or stop with a one-line message. */
export type TargetChoice =
	| {kind: 'attach'; process: QemuProcess}
	| {kind: 'pick'; processes: QemuProcess[]}
	| {kind: 'none'; message: string}
	| {kind: 'ambiguous'; message: string};

/**
Decide from the list (and `--match`): one candidate is attached to; several give the picker when `interactive`
(a terminal), else a message naming them; none gives NO_QEMU_MESSAGE or, with a match, what was there instead.
*/
export function chooseTarget(list: readonly QemuProcess[], options: {match?: string; interactive: boolean}): TargetChoice {
	const candidates = options.match === undefined ? [...list] : matchQemu(list, options.match);
	const label = (p: QemuProcess): string => `PID ${p.pid}${p.name ? ` (${p.name})` : ''}`;
	if (candidates.length === 0) {
		if (options.match === undefined || list.length === 0) return {kind: 'none', message: NO_QEMU_MESSAGE};
		return {kind: 'none', message: `no QEMU process matches "${sanitize(options.match)}" (running: ${list.map(label).join(', ')})`};
	}
	if (candidates.length === 1) return {kind: 'attach', process: candidates[0]!};
	if (options.interactive) return {kind: 'pick', processes: candidates};
	const what = options.match === undefined ? `${candidates.length} QEMU processes run` : `${candidates.length} QEMU processes match "${sanitize(options.match)}"`;
	return {kind: 'ambiguous', message: `${what}: ${candidates.map(label).join(', ')}; choose one with --pid PID or --match TEXT (pmptop --list shows them)`};
}

/**
Whether a PID given with --pid is QEMU. Not being QEMU is allowed: `note` then says so for the header, e.g.
`PID 123 (bash) does not look like QEMU: roles and the 9p panel may not apply`. No note for a missing process.
*/
export function isQemu(pid: number, options: {procRoot?: string} = {}): {qemu: boolean; note?: string} {
	const root = options.procRoot ?? '/proc';
	if (readQemuProcess(pid, {procRoot: root, clockTicks: 100})) return {qemu: true};
	const stat = readText(`${root}/${pid}/stat`);
	if (stat === undefined) return {qemu: false};
	const parsed = parseStat(stat);
	const comm = parsed.ok ? parsed.value.comm : (statusField(pid, 'Name', root) ?? '?');
	return {qemu: false, note: `PID ${pid} (${comm}) does not look like QEMU: roles and the 9p panel may not apply`};
}

/**
The header notes for a target given or chosen: not QEMU (skip with `demo`: the demo target is QEMU-shaped but not
named so), in another PID namespace (worded for `nsenter` when gdb runs inside it).
*/
export function targetNotes(pid: number, options: {procRoot?: string; nsenter?: boolean; demo?: boolean} = {}): string[] {
	const notes: string[] = [];
	if (!options.demo) {
		const {note} = isQemu(pid, {procRoot: options.procRoot});
		if (note) notes.push(note);
	}
	const ns = pidNamespaceNote(pid, {root: options.procRoot, nsenter: options.nsenter});
	if (ns) notes.push(ns);
	return notes;
}
