// PID namespaces: NSpid parsing and the nsenter plan on fake /proc trees, then a real target in its own PID
// namespace (unshare, as root): detection, its inner PID 1, gdb's warning from outside, gdb through nsenter.

import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {listQemuProcesses} from '../src/discover.js';
import {inOtherPidNamespace, stateOf, statusField} from '../src/gdb/target.js';
import {chainTo, findOnPath, innerToOuterTids, namespacePid, nsenterPrefix, NsenterError, nsenterProblems, nsPids, parseNsPid, pidNamespaceNote, targetNamespace} from '../src/namespaces.js';
import {waitUntil} from './helpers/demo.js';

const roots: string[] = [];
afterAll(() => {
	for (const r of roots) rmSync(r, {recursive: true, force: true});
});

// Files of a fake /proc: {'self/status': '...', '42/ns/pid': {link: 'pid:[1]'}}.
function tree(files: Record<string, string | {link: string}>): string {
	const root = mkdtempSync(join(tmpdir(), 'pmptop-ns-'));
	roots.push(root);
	for (const [path, content] of Object.entries(files)) {
		mkdirSync(dirname(join(root, path)), {recursive: true});
		if (typeof content === 'string') writeFileSync(join(root, path), content);
		else symlinkSync(content.link, join(root, path));
	}
	return root;
}

const stat = (pid: number, comm: string, start: number): string => `${pid} (${comm}) S 1 ${Array.from({length: 48}, (_, i) => (i === 18 ? String(start) : '0')).join(' ')}\n`;
const status = (nspid: number[]): string => `Name:\tx\nUid:\t0\t0\t0\t0\nNSpid:\t${nspid.join('\t')}\n`;

describe('NSpid', () => {
	it('parses the status value', () => {
		expect(parseNsPid('4242')).toEqual([4242]);
		expect(parseNsPid('4242\t7')).toEqual([4242, 7]);
		expect(parseNsPid(' 4242 17\t1 ')).toEqual([4242, 17, 1]);
		expect(parseNsPid('')).toEqual([]);
		expect(parseNsPid(undefined)).toEqual([]);
		expect(parseNsPid('12 x')).toEqual([]);
	});

	const root = tree({
		'self/status': status([500]),
		'self/ns/pid': {link: 'pid:[4026531836]'},
		'42/status': status([42]),
		'42/ns/pid': {link: 'pid:[4026531836]'},
		'43/status': status([43, 7]),
		'43/ns/pid': {link: 'pid:[4026532178]'},
		// No ns/pid link readable (another user's process): the NSpid depth still tells.
		'44/status': status([44, 12, 1]),
		'45/status': 'Name:\told kernel\n',
	});

	it('reads the PIDs per namespace and the namespace-local PID', () => {
		expect(nsPids(43, root)).toEqual([43, 7]);
		expect(nsPids('self', root)).toEqual([500]);
		expect(namespacePid(42, root)).toBe(42);
		expect(namespacePid(43, root)).toBe(7);
		expect(namespacePid(44, root)).toBe(1);
		expect(namespacePid(45, root)).toBe(45);
		expect(namespacePid(99, root)).toBe(99);
	});

	it('tells which targets are in another PID namespace', () => {
		expect(targetNamespace(42, root)).toEqual({other: false, innerPid: 42});
		expect(targetNamespace(43, root)).toEqual({other: true, innerPid: 7});
		expect(targetNamespace(44, root)).toEqual({other: true, innerPid: 1});
		expect(targetNamespace(45, root)).toEqual({other: false, innerPid: 45});
		expect(inOtherPidNamespace(43, root)).toBe(true);
	});

	it('writes the header note', () => {
		expect(pidNamespaceNote(42, {root})).toBeUndefined();
		expect(pidNamespaceNote(43, {root})).toBe("PID 43 is in another PID namespace (its PID there: 7); gdb's thread list may be unreliable: try --nsenter");
		expect(pidNamespaceNote(43, {root, nsenter: true})).toBe('PID 43 is in another PID namespace: gdb runs inside it (nsenter) and attaches to PID 7 there');
	});

	it('maps the LWPs gdb reports inside the namespace to host TIDs', () => {
		const r = tree({
			'43/task/43/status': status([43, 7]),
			'43/task/50/status': status([50, 8]),
			'43/task/51/status': status([51, 9]),
		});
		expect([...innerToOuterTids(43, r)].sort((a, b) => a[0] - b[0])).toEqual([[7, 43], [8, 50], [9, 51]]);
		expect(innerToOuterTids(99, r).size).toBe(0);
	});

	it('follows only children down to gdb under nsenter, and no further (gdb\'s own short-lived children)', () => {
		const r = tree({
			'10/task/10/children': '11 ',
			'11/task/11/children': '12 ',
			'12/task/12/children': '13 ',
			'13/task/13/children': '',
			'20/task/20/children': '21 22 ',
		});
		const isGdb = (pid: number) => pid === 12;
		expect(chainTo(10, isGdb, r)).toEqual({pid: 12, found: true});
		expect(chainTo(12, isGdb, r)).toEqual({pid: 12, found: true});
		// No process named like gdb: the chain's end, not found.
		expect(chainTo(10, () => false, r)).toEqual({pid: 13, found: false});
		expect(chainTo(20, () => false, r)).toEqual({pid: 20, found: false});
	});
});

describe('the nsenter plan', () => {
	const bin = tree({'nsenter': '#!/bin/sh\n', 'gdb': '#!/bin/sh\n'});
	spawnSync('chmod', ['+x', join(bin, 'nsenter'), join(bin, 'gdb')]);

	it('the prefix enters the PID and mount namespaces; no nsenter: a one-line error', () => {
		expect(nsenterPrefix(4242, {pathEnv: bin})).toEqual(['nsenter', '-t', '4242', '-p', '-m', '--']);
		expect(() => nsenterPrefix(4242, {pathEnv: '/nonexistent'})).toThrow(NsenterError);
		expect(() => nsenterPrefix(4242, {pathEnv: '/nonexistent'})).toThrow(/^nsenter not found: install util-linux/);
		expect(findOnPath('gdb', bin)).toBe(join(bin, 'gdb'));
	});

	it('no problems when the target\'s /proc shows it as its inner PID and gdb is in its mount namespace', () => {
		const root = tree({
			'43/stat': stat(43, 'qemu-system-x86', 777),
			'43/status': status([43, 1]),
			'43/root/proc/1/stat': stat(1, 'qemu-system-x86', 777),
			'43/root/usr/bin/gdb': 'ELF',
		});
		expect(nsenterProblems(43, {root, pathEnv: `${bin}:/usr/bin`})).toEqual([]);
	});

	it('gdb reached through an absolute symlink is looked up inside the target\'s root', () => {
		const root = tree({
			'43/stat': stat(43, 'q', 777),
			'43/status': status([43, 1]),
			'43/root/proc/1/stat': stat(1, 'q', 777),
			'43/root/run/sw/bin/gdb': {link: '/nix/store/abc-gdb/bin/gdb'},
			'43/root/nix/store/abc-gdb/bin/gdb': 'ELF',
			'44/stat': stat(44, 'q', 778),
			'44/status': status([44, 1]),
			'44/root/proc/1/stat': stat(1, 'q', 778),
			'44/root/run/sw/bin/gdb': {link: '/nix/store/missing/bin/gdb'},
		});
		expect(nsenterProblems(43, {root, pathEnv: `${bin}:/run/sw/bin`})).toEqual([]);
		expect(nsenterProblems(44, {root, pathEnv: `${bin}:/run/sw/bin`})).toEqual(["gdb is not visible inside PID 44's mount namespace: run without --nsenter, or give --gdb a path that exists in there"]);
		expect(nsenterProblems(43, {root, pathEnv: bin, gdb: '/run/sw/bin/gdb'})).toEqual([]);
	});

	it('names every problem: nsenter missing, a /proc of another namespace, gdb missing, not root', () => {
		const root = tree({
			'43/stat': stat(43, 'qemu-system-x86', 777),
			'43/status': status([43, 1]),
			// unshare --pid without --mount-proc: the target's /proc is the host's, whose PID 1 is init.
			'43/root/proc/1/stat': stat(1, 'systemd', 3),
			'43/root/usr/bin/.keep': '',
			'44/stat': stat(44, 'q', 1),
			'44/status': status([44, 1]),
		});
		expect(nsenterProblems(43, {root, pathEnv: '/nonexistent-bin'})).toEqual([
			expect.stringMatching(/^nsenter not found: install util-linux/),
			"the /proc inside PID 43's mount namespace does not show it as PID 1: gdb started there would read other processes' files; run without --nsenter",
			"gdb is not visible inside PID 43's mount namespace: run without --nsenter, or give --gdb a path that exists in there",
		]);
		expect(nsenterProblems(44, {root, pathEnv: bin})).toEqual(["cannot look into PID 44's mount namespace (" + root + "/44/root): --nsenter needs root"]);
		expect(nsenterProblems(45, {root, pathEnv: bin})).toEqual(['no process with PID 45']);
	});
});

// The real thing: a three-thread process named qemu-system-x86_64 as PID 1 of its own PID namespace.
const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => findOnPath(cmd) !== undefined;
const canRun = isRoot && has('unshare') && has('nsenter') && has('gcc') && has('gdb')
	&& spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

describe.skipIf(!canRun)('a real target in another PID namespace', () => {
	let dir: string;
	let binary: string;
	const children: ChildProcess[] = [];
	const inner: number[] = [];
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'pmptop-nsqemu-'));
		writeFileSync(join(dir, 'fake.c'), '#include <pthread.h>\n#include <unistd.h>\nstatic void *idle(void *a) { (void)a; for (;;) pause(); return 0; }\nint main(void) { pthread_t t; for (int i = 0; i < 2; i++) pthread_create(&t, 0, idle, 0); for (;;) pause(); }\n');
		binary = join(dir, 'qemu-system-x86_64');
		const r = spawnSync('gcc', ['-O1', '-pthread', '-o', binary, join(dir, 'fake.c')], {encoding: 'utf8'});
		if (r.status !== 0) throw new Error(r.stderr);
	});
	afterAll(() => {
		// A namespace's init ignores SIGTERM from outside: SIGKILL it (unshare --kill-child follows).
		for (const pid of inner) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}
		}
		for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
		rmSync(dir, {recursive: true, force: true});
	});

	// Start `unshare --pid --fork [--mount-proc] PROGRAM ARGS` and return the namespace's PID 1 once it runs PROGRAM.
	async function startInNamespace(program: string, args: string[], mountProc: boolean): Promise<number> {
		const child = spawn('unshare', ['--pid', '--fork', '--kill-child', ...(mountProc ? ['--mount-proc'] : []), program, ...args], {stdio: 'ignore'});
		children.push(child);
		let pid = 0;
		const found = await waitUntil(() => {
			try {
				pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
				return pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === program;
			} catch {
				return false;
			}
		}, 5000);
		expect(found).toBe(true);
		inner.push(pid);
		return pid;
	}

	it('is detected, with PID 1 inside, and found by the QEMU listing', async () => {
		const pid = await startInNamespace(binary, ['-name', 'nsvm'], true);
		expect(await waitUntil(() => innerToOuterTids(pid).size === 3, 5000)).toBe(true);
		expect(inOtherPidNamespace(pid)).toBe(true);
		expect(nsPids(pid)).toEqual([pid, 1]);
		expect(namespacePid(pid)).toBe(1);
		expect(targetNamespace(pid)).toEqual({other: true, innerPid: 1});
		expect(pidNamespaceNote(pid)).toBe(`PID ${pid} is in another PID namespace (its PID there: 1); gdb's thread list may be unreliable: try --nsenter`);
		expect([...innerToOuterTids(pid).keys()].sort()).toEqual([1, 2, 3]);
		expect(innerToOuterTids(pid).get(1)).toBe(pid);
		expect(listQemuProcesses().find(p => p.pid === pid)).toMatchObject({name: 'nsvm', nsPid: 1, threads: 3});
		expect(nsenterProblems(pid)).toEqual([]);
	});

	it('gdb from outside warns about PID namespaces; gdb through nsenter attaches to PID 1 without the warning', async () => {
		const pid = inner[0] ?? await startInNamespace(binary, ['-name', 'nsvm'], true);
		const gdbArgs = ['-nx', '-batch', '-iex', 'set debuginfod enabled off', '-ex', 'info threads'];
		const outside = spawnSync('gdb', [...gdbArgs, '-p', String(pid)], {encoding: 'utf8', timeout: 60_000});
		const outText = outside.stdout + outside.stderr;
		expect(outText).toContain('warning: Target and debugger are in different PID namespaces; thread lists and other data are likely unreliable.  Connect to gdbserver inside the container.');
		expect(outText).toContain(`(LWP ${pid})`);
		expect(outText).toMatch(/detached/);
		const through = spawnSync(nsenterPrefix(pid)[0]!, [...nsenterPrefix(pid).slice(1), 'gdb', ...gdbArgs, '-p', String(namespacePid(pid))], {encoding: 'utf8', timeout: 60_000});
		const inText = through.stdout + through.stderr;
		expect(inText).not.toContain('different PID namespaces');
		expect(inText).toMatch(/\(LWP 1\) "qemu-system-x86"/);
		expect(inText.match(/^[* ] +\d+ +Thread /gm)).toHaveLength(3);
		expect(inText).toContain('[Inferior 1 (process 1) detached]');
		// Both left the target running and untraced.
		expect(statusField(pid, 'TracerPid')).toBe('0');
		expect(stateOf(readFileSync(`/proc/${pid}/stat`, 'utf8'))).toBe('S');
	});

	it('a PID namespace without its own /proc is refused for --nsenter', async () => {
		const pid = await startInNamespace('sleep', ['100'], false);
		expect(await waitUntil(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep', 5000)).toBe(true);
		expect(namespacePid(pid)).toBe(1);
		expect(nsenterProblems(pid)).toEqual([`the /proc inside PID ${pid}'s mount namespace does not show it as PID 1: gdb started there would read other processes' files; run without --nsenter`]);
	});
});
