// Finding QEMU processes: a fake /proc tree (including the real QEMU snapshot's stat and cmdline) and real
// processes named qemu-system-x86_64 (a tiny C program compiled here, and `exec -a` on sleep).

import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {chooseTarget, formatQemuList, formatUptime, isQemu, listQemuProcesses, matchQemu, NO_QEMU_MESSAGE, parseVmName, qemuBinaryName, readQemuProcess, targetNotes, type QemuProcess} from '../src/discover.js';
import {readQemuFixture} from './helpers/fixtures.js';
import {waitUntil} from './helpers/demo.js';

interface FakeProcess {
	pid: number;
	comm: string;
	/** Full stat line; built from comm, state and the numbers below when absent. */
	stat?: string;
	state?: string;
	startTicks?: number;
	argv?: string[];
	exe?: string;
	tids?: number[];
	uid?: number;
	nsPid?: number[];
	nsLink?: string;
}

// A /proc-shaped directory: PID/{stat,comm,cmdline,status,exe,task/TID,ns/pid}, uptime, self/.
function fakeProc(processes: FakeProcess[], uptimeS = 1000): string {
	const root = mkdtempSync(join(tmpdir(), 'pmptop-fakeproc-'));
	writeFileSync(join(root, 'uptime'), `${uptimeS.toFixed(2)} 1234.56\n`);
	mkdirSync(join(root, 'self', 'ns'), {recursive: true});
	symlinkSync('pid:[4026531836]', join(root, 'self', 'ns', 'pid'));
	writeFileSync(join(root, 'self', 'status'), 'Name:\tnode\nUid:\t0\t0\t0\t0\nNSpid:\t500\n');
	for (const p of processes) {
		const dir = join(root, String(p.pid));
		mkdirSync(join(dir, 'ns'), {recursive: true});
		const tids = p.tids ?? [p.pid];
		const rest = Array.from({length: 50}, () => '0');
		rest[0] = p.state ?? 'S';
		rest[17] = String(tids.length); // field 20: num_threads
		rest[19] = String(p.startTicks ?? 0); // field 22: starttime
		writeFileSync(join(dir, 'stat'), p.stat ?? `${p.pid} (${p.comm}) ${rest.join(' ')}\n`);
		writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
		writeFileSync(join(dir, 'cmdline'), (p.argv ?? []).map(a => `${a}\0`).join(''));
		const nspid = p.nsPid ?? [p.pid];
		writeFileSync(join(dir, 'status'), `Name:\t${p.comm}\nState:\tS (sleeping)\nTracerPid:\t0\nUid:\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\nNSpid:\t${nspid.join('\t')}\n`);
		if (p.exe) symlinkSync(p.exe, join(dir, 'exe'));
		symlinkSync(p.nsLink ?? 'pid:[4026531836]', join(dir, 'ns', 'pid'));
		for (const tid of tids) mkdirSync(join(dir, 'task', String(tid)), {recursive: true});
	}
	return root;
}

// The real QEMU's /proc/PID/stat and command line from the shared snapshot (cmdline there is NUL->space).
function snapshotProcess(): FakeProcess {
	const text = readQemuFixture('proc-snapshot-qemu-tcg.txt');
	const section = (name: string) => text.split('### ').find(s => s.startsWith(name))!.split('\n').slice(1).join('\n').trim();
	const stat = section('/proc/20989/stat');
	const flat = section('/proc/20989/cmdline').split(' ');
	// -append takes one argument with spaces: join it back up to the next option.
	const a = flat.indexOf('-append');
	const v = flat.indexOf('-virtfs');
	const argv = [...flat.slice(0, a + 1), flat.slice(a + 1, v).join(' '), ...flat.slice(v)];
	const tids = [...text.matchAll(/^### \/proc\/20989\/task\/(\d+)\/stat$/gm)].map(m => Number(m[1]));
	return {pid: 20989, comm: 'qemu-system-x86', stat: `${stat}\n`, argv, tids, exe: '/usr/bin/qemu-system-x86_64', uid: 0};
}

const roots: string[] = [];
afterAll(() => {
	for (const r of roots) rmSync(r, {recursive: true, force: true});
});
function tree(processes: FakeProcess[], uptimeS?: number): string {
	const root = fakeProc(processes, uptimeS);
	roots.push(root);
	return root;
}

describe('qemuBinaryName', () => {
	it('accepts QEMU system emulators by exe, argv[0] or truncated comm', () => {
		expect(qemuBinaryName('/usr/bin/qemu-system-x86_64')).toBe('qemu-system-x86_64');
		expect(qemuBinaryName('/usr/bin/qemu-system-x86_64 (deleted)')).toBe('qemu-system-x86_64');
		expect(qemuBinaryName('qemu-system-x86')).toBe('qemu-system-x86');
		expect(qemuBinaryName('qemu-system-aar')).toBe('qemu-system-aar');
		expect(qemuBinaryName('/usr/libexec/qemu-kvm')).toBe('qemu-kvm');
		expect(qemuBinaryName('/nix/store/abc-qemu-8.2.0/bin/.qemu-system-x86_64-wrapped')).toBe('qemu-system-x86_64');
		expect(qemuBinaryName('.qemu-system-x8')).toBe('qemu-system-x8');
	});

	it('rejects other QEMU tools and look-alikes', () => {
		for (const name of ['qemu-img', 'qemu-nbd', 'qemu-x86_64', 'qemu-ga', 'qemu-storage-daemon', 'bash', 'gdb', 'qemu-demo', 'my-qemu-system-x86_64', '']) {
			expect(qemuBinaryName(name)).toBeUndefined();
		}
	});
});

describe('parseVmName', () => {
	const name = (...args: string[]) => parseVmName(['qemu-system-x86_64', ...args]);
	it('reads every -name form', () => {
		expect(name('-name', 'foo')).toEqual({name: 'foo', debugThreads: false});
		expect(name('-name', 'guest=foo,debug-threads=on')).toEqual({name: 'foo', debugThreads: true});
		expect(name('-name', 'foo,debug-threads=on')).toEqual({name: 'foo', debugThreads: true});
		expect(name('--name', 'foo,debug-threads=off')).toEqual({name: 'foo', debugThreads: false});
		expect(name('-name', 'a,,b,debug-threads=on')).toEqual({name: 'a,b', debugThreads: true});
		expect(name('-name', 'guest=x,,y,process=qemu-x')).toEqual({name: 'x,y', debugThreads: false});
		expect(name('--name=bar')).toEqual({name: 'bar', debugThreads: false});
		expect(name('-m', '1G')).toEqual({debugThreads: false});
		expect(name('-name', 'first', '-name', 'second')).toEqual({name: 'second', debugThreads: false});
		expect(name('-name', 'evil\u001b[2Jname').name).toBe('evil[2Jname');
	});
});

describe('listQemuProcesses on a fake /proc', () => {
	const snapshot = snapshotProcess();
	const root = tree([
		{pid: 100, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash'},
		snapshot,
		// comm with a space and a parenthesis; the exe is unreadable (no link): argv[0] and comm decide.
		{pid: 300, comm: 'qemu-system-x86', argv: ['/nix/store/x-qemu/bin/qemu-kvm', '-name', 'guest=nixos-test,,vm', '-virtfs', 'local,path=/nix/store,security_model=none,mount_tag=nix-store', '-virtfs', 'local,path=/tmp/xchg,security_model=none,mount_tag=xchg'], tids: [300, 301, 302, 303, 304, 305, 306, 307], uid: 30001, startTicks: 50_000, nsPid: [300, 7], nsLink: 'pid:[4026532178]'},
		{pid: 400, comm: 'odd (name) x', argv: ['qemu-system-aarch64', '-M', 'virt'], startTicks: 90_000},
		{pid: 500, comm: 'qemu-img', argv: ['qemu-img', 'convert', 'a', 'b'], exe: '/usr/bin/qemu-img'},
		{pid: 600, comm: 'qemu-system-x86', state: 'Z', argv: []},
		{pid: 700, comm: 'virtiofsd', argv: ['qemu-system-x86_64', '-chardev', 'socket,id=c,path=/s', '-device', 'vhost-user-fs-pci,chardev=c,tag=store'], exe: '/usr/bin/qemu-system-x86_64'},
	], 2000);
	const list = listQemuProcesses({procRoot: root, nowMs: 1_000_000_000, clockTicks: 100});

	it('finds the QEMUs, not bash, qemu-img or a zombie', () => {
		expect(list.map(p => p.pid)).toEqual([300, 400, 700, 20989]);
	});

	it('reads the real snapshot: name, debug-threads, threads, tag, uptime', () => {
		const p = list.find(q => q.pid === 20989)!;
		expect(p).toMatchObject({name: 'lab', debugThreads: true, tags: ['hostshare'], threads: snapshot.tids!.length, uid: 0, comm: 'qemu-system-x86', binary: 'qemu-system-x86_64'});
		expect(p.matchedBy).toEqual(['exe', 'argv0', 'comm']);
		// starttime 176968 ticks = 1769.68 s after boot; /proc/uptime says 2000.
		expect(p.uptimeS).toBeCloseTo(2000 - 1769.68, 5);
		expect(p.startedAtMs).toBeCloseTo(1_000_000_000 - (2000 - 1769.68) * 1000, 3);
		expect(p.nsPid).toBeUndefined();
	});

	it('reads a NixOS-style VM: escaped name, several tags, uid, another PID namespace', () => {
		const p = list.find(q => q.pid === 300)!;
		expect(p).toMatchObject({name: 'nixos-test,vm', debugThreads: false, tags: ['nix-store', 'xchg'], threads: 8, uid: 30001, binary: 'qemu-kvm', nsPid: 7, uptimeS: 1500});
		expect(p.matchedBy).toEqual(['argv0', 'comm']);
	});

	it('parses a comm with spaces and parentheses, and a process without -name', () => {
		const p = list.find(q => q.pid === 400)!;
		expect(p).toMatchObject({comm: 'odd (name) x', name: undefined, tags: [], binary: 'qemu-system-aarch64', uptimeS: 1100, threads: 1});
	});

	it('lists virtiofs tags apart from 9p tags', () => {
		expect(list.find(q => q.pid === 700)).toMatchObject({tags: [], virtiofsTags: ['store']});
	});

	it('an empty or missing /proc gives an empty list', () => {
		expect(listQemuProcesses({procRoot: tree([])})).toEqual([]);
		expect(listQemuProcesses({procRoot: '/nonexistent/proc'})).toEqual([]);
	});

	it('isQemu and targetNotes', () => {
		expect(isQemu(20989, {procRoot: root})).toEqual({qemu: true});
		expect(isQemu(100, {procRoot: root})).toEqual({qemu: false, note: 'PID 100 (bash) does not look like QEMU: roles and the 9p panel may not apply'});
		expect(isQemu(999, {procRoot: root})).toEqual({qemu: false});
		expect(targetNotes(100, {procRoot: root})).toEqual(['PID 100 (bash) does not look like QEMU: roles and the 9p panel may not apply']);
		expect(targetNotes(100, {procRoot: root, demo: true})).toEqual([]);
		expect(targetNotes(300, {procRoot: root})).toEqual(["PID 300 is in another PID namespace (its PID there: 7); gdb's thread list may be unreliable: try --nsenter"]);
		expect(targetNotes(20989, {procRoot: root})).toEqual([]);
	});

	it('formats the --list table', () => {
		const text = formatQemuList(list);
		const lines = text.trimEnd().split('\n');
		expect(lines).toHaveLength(5);
		expect(lines[0]).toMatch(/^\s*PID\s+USER\s+UPTIME\s+THREADS\s+DEBUG-THREADS\s+NAME\s+9P TAGS\s+NS PID$/);
		expect(lines[1]).toMatch(/^\s*300\s+30001\s+25m00s\s+8\s+off\s+nixos-test,vm\s+nix-store,xchg\s+7$/);
		expect(lines[2]).toMatch(/^\s*400\s+root\s+18m20s\s+1\s+off\s+-\s+-\s+-$/);
		expect(lines[3]).toMatch(/^\s*700\s+root\s+.*virtiofs:store/);
		expect(snapshot.tids).toHaveLength(7);
		expect(lines[4]).toMatch(/^20989\s+root\s+3m50s\s+7\s+on\s+lab\s+hostshare\s+-$/);
		expect(formatQemuList([])).toBe(`${NO_QEMU_MESSAGE}\n`);
		expect(NO_QEMU_MESSAGE).toBe('no QEMU process found; try pmptop --demo to see pmptop on the bundled demo target, or --pid PID');
	});
});

describe('matchQemu and chooseTarget', () => {
	const p = (pid: number, name: string | undefined, args: string[] = []): QemuProcess => ({
		pid, name, debugThreads: false, uptimeS: 1, startedAtMs: 0, threads: 1, tags: [], virtiofsTags: [], comm: 'qemu-system-x86', binary: 'qemu-system-x86_64', matchedBy: ['argv0'], argv: ['qemu-system-x86_64', ...(name ? ['-name', name] : []), ...args],
	});
	const list = [p(10, 'web'), p(11, 'web-2'), p(12, undefined, ['-drive', 'file=/srv/db.qcow2']), p(13, 'Database')];

	it('prefers a PID, then an exact name, then substrings of name or command line', () => {
		expect(matchQemu(list, '12').map(x => x.pid)).toEqual([12]);
		expect(matchQemu(list, 'web').map(x => x.pid)).toEqual([10]);
		expect(matchQemu(list, 'web-').map(x => x.pid)).toEqual([11]);
		expect(matchQemu(list, 'db.qcow2').map(x => x.pid)).toEqual([12]);
		expect(matchQemu(list, 'DATA').map(x => x.pid)).toEqual([13]);
		expect(matchQemu(list, 'we').map(x => x.pid)).toEqual([10, 11]);
		expect(matchQemu(list, 'qemu-system').map(x => x.pid)).toEqual([10, 11, 12, 13]);
		expect(matchQemu(list, '').map(x => x.pid)).toEqual([10, 11, 12, 13]);
		expect(matchQemu(list, 'nothing')).toEqual([]);
	});

	it('decides: attach, pick, none, ambiguous', () => {
		expect(chooseTarget([list[0]!], {interactive: false})).toMatchObject({kind: 'attach', process: {pid: 10}});
		expect(chooseTarget(list, {match: 'web', interactive: false})).toMatchObject({kind: 'attach', process: {pid: 10}});
		expect(chooseTarget(list, {interactive: true})).toMatchObject({kind: 'pick', processes: list});
		expect(chooseTarget(list, {match: 'we', interactive: true})).toMatchObject({kind: 'pick', processes: [{pid: 10}, {pid: 11}]});
		expect(chooseTarget([], {interactive: true})).toEqual({kind: 'none', message: NO_QEMU_MESSAGE});
		expect(chooseTarget(list, {match: 'zzz', interactive: true})).toEqual({kind: 'none', message: 'no QEMU process matches "zzz" (running: PID 10 (web), PID 11 (web-2), PID 12, PID 13 (Database))'});
		const amb = chooseTarget(list, {match: 'we', interactive: false});
		expect(amb.kind).toBe('ambiguous');
		expect(amb.kind === 'ambiguous' && amb.message).toBe('2 QEMU processes match "we": PID 10 (web), PID 11 (web-2); choose one with --pid PID or --match TEXT (pmptop --list shows them)');
	});

	it('formats uptimes', () => {
		expect([0, 42, 60, 725, 3600, 11_040, 86_400, 183_600, Number.NaN, -1].map(formatUptime)).toEqual(['0s', '42s', '1m00s', '12m05s', '1h00m', '3h04m', '1d00h', '2d03h', '-', '-']);
	});
});

// A real process named qemu-system-x86_64: exe, comm and argv[0] all match. sleep would reject QEMU's options,
// so a three-thread C program that ignores its arguments is compiled and copied under that name.
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
describe.skipIf(!hasGcc)('listQemuProcesses on real processes', () => {
	let dir: string;
	let binary: string;
	const children: ChildProcess[] = [];
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'pmptop-fakeqemu-'));
		writeFileSync(join(dir, 'fake.c'), '#include <pthread.h>\n#include <unistd.h>\nstatic void *idle(void *a) { (void)a; for (;;) pause(); return 0; }\nint main(void) { pthread_t t; for (int i = 0; i < 2; i++) pthread_create(&t, 0, idle, 0); for (;;) pause(); }\n');
		binary = join(dir, 'qemu-system-x86_64');
		const r = spawnSync('gcc', ['-O1', '-pthread', '-o', binary, join(dir, 'fake.c')], {encoding: 'utf8'});
		if (r.status !== 0) throw new Error(r.stderr);
	});
	afterAll(() => {
		for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
		rmSync(dir, {recursive: true, force: true});
	});
	const start = (cmd: string, args: string[]): ChildProcess => {
		const c = spawn(cmd, args, {stdio: 'ignore'});
		children.push(c);
		return c;
	};

	it('finds it with the VM name, debug-threads, thread count, 9p tag, uid and a young uptime', async () => {
		const child = start(binary, ['-name', 'guest=testvm,debug-threads=on', '-virtfs', 'local,path=/tmp,mount_tag=hostshare,security_model=none', '-m', '1G']);
		const pid = child.pid!;
		expect(await waitUntil(() => {
			try {
				return readdirSync(`/proc/${pid}/task`).length === 3;
			} catch {
				return false;
			}
		}, 5000)).toBe(true);
		const found = listQemuProcesses().find(p => p.pid === pid);
		expect(found).toMatchObject({name: 'testvm', debugThreads: true, tags: ['hostshare'], threads: 3, uid: process.getuid!(), binary: 'qemu-system-x86_64', comm: 'qemu-system-x86'});
		expect(found!.matchedBy).toEqual(['exe', 'argv0', 'comm']);
		expect(found!.uptimeS).toBeGreaterThanOrEqual(0);
		expect(found!.uptimeS).toBeLessThan(30);
		expect(found!.nsPid).toBeUndefined();
		expect(isQemu(pid)).toEqual({qemu: true});
		expect(matchQemu(listQemuProcesses(), 'testvm').map(p => p.pid)).toEqual([pid]);
		expect(formatQemuList([found!])).toMatch(new RegExp(`^\\s*${pid}\\s+\\S+\\s+\\d+s\\s+3\\s+on\\s+testvm\\s+hostshare$`, 'm'));
		child.kill('SIGKILL');
	});

	it('finds `exec -a qemu-system-x86_64 sleep` by argv[0] alone', async () => {
		const child = start('bash', ['-c', 'exec -a qemu-system-x86_64 sleep 100']);
		const pid = child.pid!;
		expect(await waitUntil(() => readQemuProcess(pid) !== undefined, 5000)).toBe(true);
		const found = listQemuProcesses().find(p => p.pid === pid)!;
		expect(found).toMatchObject({comm: 'sleep', binary: 'qemu-system-x86_64', matchedBy: ['argv0'], threads: 1});
		child.kill('SIGKILL');
	});

	it('says when a real PID is not QEMU', () => {
		expect(isQemu(process.pid).note).toMatch(new RegExp(`^PID ${process.pid} \\((node|vitest|[^)]+)\\) does not look like QEMU: roles and the 9p panel may not apply$`));
		expect(listQemuProcesses().some(p => p.pid === process.pid)).toBe(false);
	});
});
