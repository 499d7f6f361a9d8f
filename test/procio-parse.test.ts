import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {parseCmdline, parseComm, parseIo, parseStat} from '../src/procio/parse.js';
import {parseQemuOptionValue, parseShares, splitQemuOptions} from '../src/procio/shares.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);

// The snapshot is `### /proc/...` headers, each followed by that file's text.
function snapshotSections(): Map<string, string> {
	const text = readFileSync(new URL('proc-snapshot-qemu-tcg.txt', FIXTURES), 'utf8');
	const sections = new Map<string, string>();
	let name = '';
	for (const line of text.split('\n')) {
		if (line.startsWith('### ')) {
			name = line.slice(4).replace(/ \(NUL->space\)$/, '');
			sections.set(name, '');
		} else if (name) {
			sections.set(name, sections.get(name)! + line + '\n');
		}
	}
	return sections;
}

describe('parseIo', () => {
	const sections = snapshotSections();

	it('reads every field of the process io file', () => {
		const io = parseIo(sections.get('/proc/20989/io')!);
		expect(io).toEqual({ok: true, value: {
			rchar: 45119883, wchar: 605936, syscr: 61222, syscw: 76199,
			readBytes: 9617408, writeBytes: 4096, cancelledWriteBytes: 0,
		}});
	});

	it('reads every task io file, and the workers read large chunks', () => {
		const tids = [...sections.keys()].map(k => /^\/proc\/20989\/task\/(\d+)\/io$/.exec(k)?.[1]).filter(Boolean);
		expect(tids).toEqual(['20989', '20994', '20995', '20996', '21156', '21161', '21218']);
		const worker = parseIo(sections.get('/proc/20989/task/21161/io')!);
		if (!worker.ok) throw new Error(worker.message);
		expect(worker.value.rchar / worker.value.syscr).toBeGreaterThan(4096);
		const vcpu = parseIo(sections.get('/proc/20989/task/20995/io')!);
		expect(vcpu.ok && vcpu.value.syscr).toBe(0);
	});

	it('reports missing or garbled fields as malformed, never as 0', () => {
		const full = sections.get('/proc/20989/io')!;
		const noSyscr = full.split('\n').filter(l => !l.startsWith('syscr')).join('\n');
		expect(parseIo(noSyscr)).toMatchObject({ok: false, reason: 'malformed'});
		expect(parseIo('')).toMatchObject({ok: false, reason: 'malformed'});
		expect(parseIo(full.replace('rchar: 45119883', 'rchar: x'))).toMatchObject({ok: false, reason: 'malformed'});
		const cut = full.slice(0, full.indexOf('read_bytes'));
		const result = parseIo(cut);
		expect(result.ok).toBe(false);
		if (!result.ok) expect(result.message).toContain('read_bytes');
	});

	it('ignores unknown extra lines', () => {
		expect(parseIo(sections.get('/proc/20989/io')! + 'future_field: 7\n').ok).toBe(true);
	});
});

describe('parseStat and parseComm', () => {
	const sections = snapshotSections();

	it('parses the comm of a vCPU thread with a space and a slash', () => {
		const stat = parseStat(sections.get('/proc/20989/task/20995/stat')!);
		expect(stat).toMatchObject({ok: true, value: {pid: 20995, comm: 'CPU 0/TCG', state: 'R', ppid: 20929, utimeTicks: 2260, stimeTicks: 110, numThreads: 7}});
	});

	it('parses every stat in the snapshot and agrees with comm', () => {
		for (const [name, text] of sections) {
			const m = /^\/proc\/20989\/task\/(\d+)\/stat$/.exec(name);
			if (!m) continue;
			const stat = parseStat(text);
			if (!stat.ok) throw new Error(stat.message);
			expect(stat.value.pid).toBe(Number(m[1]));
			expect(stat.value.comm).toBe(parseComm(sections.get(`/proc/20989/task/${m[1]}/comm`)!));
		}
	});

	it('runs the comm to the last parenthesis', () => {
		// Fields 3..52; field n sits at index n - 3.
		const fields = Array.from({length: 50}, () => '0');
		fields[3 - 3] = 'R';
		fields[14 - 3] = '5';
		fields[15 - 3] = '6';
		fields[20 - 3] = '3';
		fields[39 - 3] = '1';
		const stat = parseStat(`42 (a) b (c)) ${fields.join(' ')}`);
		expect(stat).toMatchObject({ok: true, value: {pid: 42, comm: 'a) b (c)', state: 'R', utimeTicks: 5, stimeTicks: 6, numThreads: 3, processor: 1}});
	});

	it('rejects truncated stat lines and strips control characters from comm', () => {
		expect(parseStat('42 (x) R 1 2')).toMatchObject({ok: false, reason: 'malformed'});
		expect(parseStat('no parens')).toMatchObject({ok: false, reason: 'malformed'});
		expect(parseComm('evil\u001b[2Jname\n')).toBe('evil[2Jname');
	});
});

describe('parseCmdline and parseShares', () => {
	it('splits NUL-separated arguments', () => {
		expect(parseCmdline('qemu\0-m\x001G\0')).toEqual(['qemu', '-m', '1G']);
		expect(parseCmdline('')).toEqual([]);
	});

	it('finds the -virtfs share of the snapshot (NUL turned into spaces there)', () => {
		const argv = snapshotSections().get('/proc/20989/cmdline')!.trim().split(' ');
		expect(parseShares(argv)).toEqual({
			shares: [{tag: 'hostshare', path: '/srv/vm/share', id: 'fs0', readonly: false, fsDriver: 'local', securityModel: 'none', via: 'virtfs'}],
			virtiofs: false,
			virtiofsTags: [],
		});
	});

	it('handles NixOS-style shares, --opt, readonly and id defaulting to the tag', () => {
		const argv = parseCmdline([
			'qemu-system-x86_64', '-name', 'machine',
			'-virtfs', 'local,path=/nix/store,security_model=none,mount_tag=nix-store,readonly=on',
			'--virtfs', 'local,path=/tmp/xchg,security_model=none,mount_tag=xchg',
			'-virtfs', 'local,path=/tmp/shared,security_model=none,mount_tag=shared,readonly',
		].join('\0') + '\0');
		const {shares} = parseShares(argv);
		expect(shares.map(s => [s.tag, s.path, s.id, s.readonly])).toEqual([
			['nix-store', '/nix/store', 'nix-store', true],
			['xchg', '/tmp/xchg', 'xchg', false],
			['shared', '/tmp/shared', 'shared', true],
		]);
	});

	it('joins -fsdev to -device virtio-9p-* in either order, with ,, as a literal comma', () => {
		const argv = [
			'qemu',
			'-device', 'virtio-9p-pci,id=dev0,fsdev=fsA,mount_tag=tagA',
			'--fsdev', 'local,id=fsA,path=/srv/a,,b,security_model=mapped-xattr,readonly=on',
			'-fsdev', 'local,id=fsB,path=/srv/b,security_model=none',
			'-device', 'driver=virtio-9p-ccw,fsdev=fsB,mount_tag=tagB',
			'-device', '{"driver":"virtio-9p-device","fsdev":"fsC","mount_tag":"tagC"}',
			'-device', 'virtio-net-pci,netdev=n0',
			'-fsdev', 'local,id=unused,path=/srv/unused,security_model=none',
		];
		expect(parseShares(argv).shares).toEqual([
			{tag: 'tagA', path: '/srv/a,b', id: 'fsA', readonly: true, fsDriver: 'local', securityModel: 'mapped-xattr', via: 'fsdev'},
			{tag: 'tagB', path: '/srv/b', id: 'fsB', readonly: false, fsDriver: 'local', securityModel: 'none', via: 'fsdev'},
			{tag: 'tagC', path: undefined, id: 'fsC', readonly: false, fsDriver: undefined, securityModel: undefined, via: 'fsdev'},
		]);
	});

	it('says when shares go through virtiofs and finds no 9p', () => {
		const argv = ['qemu', '-chardev', 'socket,id=char0,path=/run/vfs.sock', '-device', 'vhost-user-fs-pci,chardev=char0,tag=nix-store'];
		expect(parseShares(argv)).toEqual({shares: [], virtiofs: true, virtiofsTags: ['nix-store']});
		expect(parseShares(['qemu', '-m', '1G'])).toEqual({shares: [], virtiofs: false, virtiofsTags: []});
	});

	it('does not take an option value for an option name', () => {
		// `-append` carries `-virtfs` text inside one argument: not an option.
		expect(parseShares(['qemu', '-append', 'x -virtfs local,path=/p,mount_tag=t']).shares).toEqual([]);
	});

	it('splits QEMU option strings', () => {
		expect(splitQemuOptions('a,b=c,,d,,,e=f')).toEqual(['a', 'b=c,d,', 'e=f']);
		const value = parseQemuOptionValue('local,path=/x,,y,readonly');
		expect(value.head).toBe('local');
		expect([...value.props]).toEqual([['path', '/x,y'], ['readonly', 'on']]);
	});
});
