// Attach failures explained in one line with what to do, on fake /proc trees: ptrace_scope 1/2/3, another uid,
// root without CAP_SYS_PTRACE, a non-dumpable target, an existing tracer, nsenter failures, gdb missing.
// The gdb and nsenter messages are the real ones (gdb 13.1 MI `^error,msg=...`, util-linux 2.38 nsenter).

import {spawn, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {describeAttachFailure, hasCapSysPtrace, ptraceScope, ptraceScopeMeaning, uidOf, userName} from '../src/gdb/target.js';
import {findOnPath} from '../src/namespaces.js';
import {waitUntil} from './helpers/demo.js';

const EPERM = 'ptrace: Operation not permitted.';
const ESRCH = 'ptrace: No such process.';
// CapEff of root (all 41 capabilities) and of root in a container without CAP_SYS_PTRACE (bit 19 cleared).
const CAP_ALL = '000001ffffffffff';
const CAP_NO_PTRACE = '000001fffff7ffff';

const roots: string[] = [];
afterAll(() => {
	for (const r of roots) rmSync(r, {recursive: true, force: true});
});

interface Fake {
	scope?: number;
	myCap?: string;
	targetUid?: number;
	tracer?: {pid: number; comm: string};
}

// A fake /proc with target PID 43, `self`, optionally Yama and a tracer; plus a passwd file beside it.
function fake({scope, myCap = '0000000000000000', targetUid = 1000, tracer}: Fake): {root: string; passwd: string} {
	const base = mkdtempSync(join(tmpdir(), 'pmptop-attach-'));
	roots.push(base);
	const root = join(base, 'proc');
	const files: Record<string, string> = {
		'self/status': `Name:\tnode\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t${myCap}\n`,
		'43/status': `Name:\tqemu-system-x86\nTracerPid:\t${tracer?.pid ?? 0}\nUid:\t${targetUid}\t${targetUid}\t${targetUid}\t${targetUid}\nNSpid:\t43\n`,
		'43/comm': 'qemu-system-x86\n',
	};
	if (scope !== undefined) files['sys/kernel/yama/ptrace_scope'] = `${scope}\n`;
	if (tracer) files[`${tracer.pid}/comm`] = `${tracer.comm}\n`;
	for (const [path, text] of Object.entries(files)) {
		mkdirSync(dirname(join(root, path)), {recursive: true});
		writeFileSync(join(root, path), text);
	}
	const passwd = join(base, 'passwd');
	writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nnixbld1:x:30001:30000:Nix build user 1:/var/empty:/noshell\n');
	return {root, passwd};
}

describe('reading the debugger side', () => {
	it('ptrace_scope, capabilities, uids, user names', () => {
		const {root, passwd} = fake({scope: 2, myCap: CAP_NO_PTRACE, targetUid: 30001});
		expect(ptraceScope(root)).toBe(2);
		expect(ptraceScope(join(root, 'nowhere'))).toBeUndefined();
		expect(hasCapSysPtrace('self', root)).toBe(false);
		expect(hasCapSysPtrace('self', fake({myCap: CAP_ALL}).root)).toBe(true);
		expect(hasCapSysPtrace(99, root)).toBeUndefined();
		expect(uidOf(43, root)).toBe(30001);
		expect(uidOf('self', root)).toBe(1000);
		expect(userName(30001, passwd)).toBe('nixbld1');
		expect(userName(4242, passwd)).toBeUndefined();
		expect([0, 1, 2, 3].map(ptraceScopeMeaning)).toEqual([
			'classic ptrace permissions',
			"only a debugger's own descendants may be traced",
			'only CAP_SYS_PTRACE may trace',
			'no process may be traced, not even by root',
		]);
	});

	it('reads this process\'s real CapEff', () => {
		const cap = hasCapSysPtrace();
		expect(typeof cap).toBe('boolean');
		if (process.getuid?.() === 0 && cap) expect(describeAttachFailure(process.pid, EPERM)).toMatch(/even with CAP_SYS_PTRACE/);
	});
});

describe('describeAttachFailure', () => {
	const asAlice = (f: {passwd: string}) => ({uid: 1000, passwdPath: f.passwd});

	it('ptrace_scope 1: only descendants; the remedy includes the sysctl', () => {
		const f = fake({scope: 1});
		expect(describeAttachFailure(43, EPERM, f.root, asAlice(f))).toBe("not permitted to ptrace PID 43; kernel.yama.ptrace_scope=1 (only a debugger's own descendants may be traced): run as root (CAP_SYS_PTRACE) or set it to 0: sysctl kernel.yama.ptrace_scope=0");
	});

	it('ptrace_scope 2: only CAP_SYS_PTRACE', () => {
		const f = fake({scope: 2});
		expect(describeAttachFailure(43, EPERM, f.root, asAlice(f))).toBe('not permitted to ptrace PID 43; kernel.yama.ptrace_scope=2 (only CAP_SYS_PTRACE may trace): run as root (CAP_SYS_PTRACE)');
	});

	it('ptrace_scope 3: nobody, not even root, until a reboot', () => {
		const f = fake({scope: 3, myCap: CAP_ALL});
		const expected = 'not permitted to ptrace PID 43; kernel.yama.ptrace_scope=3 (no process may be traced, not even by root): it cannot be lowered until a reboot';
		expect(describeAttachFailure(43, EPERM, f.root, asAlice(f))).toBe(expected);
		expect(describeAttachFailure(43, EPERM, f.root, {uid: 0, passwdPath: f.passwd})).toBe(expected);
	});

	it('ptrace_scope 1 or 2 is no obstacle with CAP_SYS_PTRACE: then something else forbids it', () => {
		for (const scope of [1, 2]) {
			const f = fake({scope, myCap: CAP_ALL, targetUid: 0});
			expect(describeAttachFailure(43, EPERM, f.root, {uid: 0, passwdPath: f.passwd})).toBe('not permitted to ptrace PID 43; even with CAP_SYS_PTRACE: a security module (AppArmor, SELinux), seccomp or a container forbids it');
		}
	});

	it('another uid: names both users', () => {
		const f = fake({targetUid: 30001});
		expect(describeAttachFailure(43, EPERM, f.root, asAlice(f))).toBe('not permitted to ptrace PID 43; it runs as uid 30001 (nixbld1), you are uid 1000 (alice): run as root (sudo) or as that user');
		const g = fake({scope: 1, targetUid: 30001});
		expect(describeAttachFailure(43, EPERM, g.root, asAlice(g))).toBe("not permitted to ptrace PID 43; kernel.yama.ptrace_scope=1 (only a debugger's own descendants may be traced): run as root (CAP_SYS_PTRACE) or set it to 0: sysctl kernel.yama.ptrace_scope=0; it runs as uid 30001 (nixbld1), you are uid 1000 (alice): run as root (sudo) or as that user");
	});

	it('root without CAP_SYS_PTRACE (a container)', () => {
		const f = fake({myCap: CAP_NO_PTRACE, targetUid: 30001});
		expect(describeAttachFailure(43, EPERM, f.root, {uid: 0, passwdPath: f.passwd})).toBe('not permitted to ptrace PID 43; you are root without CAP_SYS_PTRACE (a container?): add the capability (docker run --cap-add SYS_PTRACE)');
	});

	it('same uid but a target whose /proc/PID/status belongs to root: not dumpable', () => {
		const f = fake({});
		const owner = statSync(join(f.root, '43', 'status')).uid;
		const message = describeAttachFailure(43, EPERM, f.root, {uid: 1000, passwdPath: f.passwd});
		if (owner === 0) expect(message).toBe('not permitted to ptrace PID 43; it is not dumpable (it changed credentials or set PR_SET_DUMPABLE 0): run as root');
		else expect(message).toBe('not permitted to ptrace PID 43; run as root (CAP_SYS_PTRACE)');
	});

	it('already traced: the tracer PID and its comm come first, whatever gdb said', () => {
		const f = fake({tracer: {pid: 77, comm: 'strace'}});
		expect(describeAttachFailure(43, EPERM, f.root, asAlice(f))).toBe('PID 43 is already traced by PID 77 (strace): detach that debugger or strace first');
		const g = fake({tracer: {pid: 78, comm: 'gdb'}, scope: 1});
		expect(describeAttachFailure(43, EPERM, g.root)).toBe('PID 43 is already traced by PID 78 (gdb): detach that debugger or strace first');
		// A tracer in another namespace or gone: no comm.
		const h = fake({tracer: {pid: 79, comm: 'x'}});
		rmSync(join(h.root, '79'), {recursive: true});
		expect(describeAttachFailure(43, EPERM, h.root)).toBe('PID 43 is already traced by PID 79: detach that debugger or strace first');
	});

	it('no such process', () => {
		const f = fake({});
		expect(describeAttachFailure(44, ESRCH, f.root)).toBe('no process with PID 44');
		expect(describeAttachFailure(43, ESRCH, f.root)).toBe('no process with PID 43');
		expect(describeAttachFailure(43, ESRCH, f.root, {nsenter: true})).toBe("gdb inside PID 43's namespace found no such process: attach to its namespace PID (last NSpid entry of /proc/43/status)");
	});

	it('gdb missing, on PATH, at --gdb, or inside the target\'s mount namespace', () => {
		const f = fake({});
		expect(describeAttachFailure(43, 'gdb not found', f.root)).toBe('gdb is not installed (install it: apt-get install gdb)');
		expect(describeAttachFailure(43, 'spawn gdb ENOENT', f.root)).toBe('gdb is not installed (install it: apt-get install gdb)');
		expect(describeAttachFailure(43, '/opt/gdb not found', f.root, {gdbPath: '/opt/gdb'})).toBe('/opt/gdb not found: install gdb (apt-get install gdb) or fix --gdb');
		expect(describeAttachFailure(43, 'gdb not found', f.root, {nsenter: true})).toBe("gdb not found inside PID 43's mount namespace: run without --nsenter, or give --gdb a path that exists in there");
	});

	it('nsenter failures (util-linux 2.38 messages)', () => {
		const f = fake({});
		expect(describeAttachFailure(43, 'nsenter: failed to execute gdb: No such file or directory', f.root, {nsenter: true})).toBe("gdb is not visible inside PID 43's mount namespace (nsenter could not run it): run without --nsenter, or give --gdb a path that exists in there");
		expect(describeAttachFailure(43, 'nsenter: cannot open /proc/43/ns/pid: Permission denied', f.root, {nsenter: true})).toBe("nsenter could not enter PID 43's namespaces (nsenter: cannot open /proc/43/ns/pid: Permission denied): run as root (CAP_SYS_ADMIN), or without --nsenter");
		expect(describeAttachFailure(43, "nsenter: reassociate to namespace 'ns/pid' failed: Operation not permitted", f.root, {nsenter: true})).toMatch(/^nsenter could not enter PID 43's namespaces \(.*\): run as root/);
		expect(describeAttachFailure(43, 'sh: 1: nsenter: not found', f.root, {nsenter: true})).toBe('nsenter not found: install util-linux, or run without --nsenter');
	});

	it('anything else: gdb\'s first line', () => {
		const f = fake({});
		expect(describeAttachFailure(43, 'Cannot access memory at address 0x0\nmore', f.root)).toBe('cannot attach to PID 43: Cannot access memory at address 0x0');
	});

	it('every message is one line', () => {
		const f = fake({scope: 1, targetUid: 30001});
		for (const m of [EPERM, ESRCH, 'gdb not found', 'x\ny']) expect(describeAttachFailure(43, m, f.root, asAlice(f))).not.toContain('\n');
	});
});

// Real processes run as nobody (root and setpriv needed): the diagnosis as an unprivileged uid would see it.
const canSwitch = process.getuid?.() === 0 && findOnPath('setpriv') !== undefined && findOnPath('gcc') !== undefined;
describe.skipIf(!canSwitch)('describeAttachFailure on real processes', () => {
	it('another uid, and a non-dumpable process of the same uid (its /proc files belong to root)', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'pmptop-nodump-'));
		roots.push(dir);
		writeFileSync(join(dir, 'nd.c'), '#include <sys/prctl.h>\n#include <unistd.h>\nint main(void) { prctl(PR_SET_DUMPABLE, 0); for (;;) pause(); }\n');
		expect(spawnSync('gcc', ['-o', join(dir, 'nd'), join(dir, 'nd.c')]).status).toBe(0);
		const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
		const plain = spawn('setpriv', [...nobody, 'sleep', '60'], {stdio: 'ignore'});
		const nodump = spawn('setpriv', [...nobody, join(dir, 'nd')], {stdio: 'ignore'});
		try {
			const uidIs = (pid: number) => () => uidOf(pid) === 65534 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'setpriv';
			expect(await waitUntil(uidIs(plain.pid!), 5000)).toBe(true);
			expect(await waitUntil(uidIs(nodump.pid!), 5000)).toBe(true);
			expect(await waitUntil(() => statSync(`/proc/${nodump.pid}/status`).uid === 0, 5000)).toBe(true);
			const name = userName(65534);
			expect(describeAttachFailure(plain.pid!, EPERM, '/proc', {uid: 4242, capSysPtrace: false}))
				.toBe(`not permitted to ptrace PID ${plain.pid}; it runs as uid 65534${name ? ` (${name})` : ''}, you are uid 4242: run as root (sudo) or as that user`);
			expect(describeAttachFailure(nodump.pid!, EPERM, '/proc', {uid: 65534, capSysPtrace: false}))
				.toBe(`not permitted to ptrace PID ${nodump.pid}; it is not dumpable (it changed credentials or set PR_SET_DUMPABLE 0): run as root`);
			expect(describeAttachFailure(plain.pid!, EPERM, '/proc', {uid: 65534, capSysPtrace: false}))
				.toBe(`not permitted to ptrace PID ${plain.pid}; run as root (CAP_SYS_PTRACE)`);
		} finally {
			plain.kill('SIGKILL');
			nodump.kill('SIGKILL');
		}
	});
});
