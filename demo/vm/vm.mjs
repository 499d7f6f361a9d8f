#!/usr/bin/env node
// A real QEMU VM with a 9p share, for profiling with pmptop: the guest mounts a host tree over virtio-9p and
// copies it, so QEMU's main loop, vCPUs and thread-pool workers do real 9p work. Node >= 20, no dependencies.
//
// Usage
//   node demo/vm/vm.mjs prepare [options]         install packages, fetch the kernel, build initramfs and tree
//   node demo/vm/vm.mjs start   [options]         prepare (cached), then boot the VM
//   node demo/vm/vm.mjs stop    [PID...] [--all]  stop VMs started from this cache (no PID: all of them)
//   node demo/vm/vm.mjs status  [--json]          list the runs in the cache and whether they still run
//   node demo/vm/vm.mjs --kill PID                the same as `stop PID`
//
// Options
//   --cache DIR          where everything is kept (default: $PMPTOP_VM_CACHE, else demo/vm/cache/ next to this script)
//   --msize N            9p msize the guest mounts with (default 8192: the slow case; 512000 is virtio's max)
//   --once               copy the tree once, then power off (same as --copies 1)
//   --copies N           copy N times, then power off; 0 = no limit (default 0)
//   --seconds S          start copies (each one whole) until S s have passed since the first began, then power
//                        off; 0 = no limit (default 0). Both 0: copy until the VM is stopped
//   --named-threads      -name pmptop-vm,debug-threads=on (default: -name pmptop-vm, unnamed threads as on NixOS)
//   --files N            files in the generated tree (default 2500)
//   --size SIZE          total bytes of the tree, suffix K/M/G allowed (default 160M)
//   --accel auto|kvm|tcg auto: KVM when a real boot check passes (result cached), else TCG (default auto)
//   --smp N, --mem SIZE  guest CPUs (default 2) and memory (default 1G)
//   --background         start QEMU detached and return once it runs (a small supervisor records its exit)
//   --wait started|init|mounted|copy|end   with --background: return only after this console marker (default started)
//   --timeout S          with --wait: give up after S seconds (default 300)
//   --json               machine-readable result on stdout (everything else goes to stderr)
//   --no-install         never run apt-get; fail when a package is missing
//   --kernel VERSION     use this kernel (e.g. 6.1.0-57-amd64) instead of the cached one or apt's current one
//
// `start --background --json` prints one line and exits 0 once QEMU runs (and the --wait marker appeared):
//   {"pid":1234,"console":"/abs/cache/runs/ID/console.log","stderr":"/abs/.../qemu.stderr.log",
//    "exitFile":"/abs/.../exit.json","runDir":"/abs/.../runs/ID","accel":"tcg","msize":8192,"copies":1,"seconds":0,
//    "namedThreads":false,"kernel":"6.1.0-57-amd64","tree":"/abs/...","files":2500,"bytes":167772160,
//    "argv":["qemu-system-x86_64",...]}
// exitFile appears when QEMU has exited: {"code":0,"signal":null,"endedAtMs":...}. `prepare --json` prints the
// cached paths; `status --json` an array of runs {id,pid,alive,exit,stopped,lastMarker,console,runDir}.
// Foreground `start` streams the console to stdout (stderr with --json) and exits with QEMU's exit code;
// Ctrl-C stops the VM.
//
// Console markers printed by the guest's /init (one line each, "PMPTOP-VM: " prefix):
//   init kernel VER cpus N | mounted hostshare msize=N | copy start K |
//   progress N files (copy K) [every 10 s] | copy done N files B bytes S s (copy K) | end K copies | error WHAT
// The VM powers itself off after the last copy (`poweroff -f`, QEMU runs with -no-reboot and exits 0).
//
// Cache layout: kernel-VER/{vmlinuz,modules/*.ko,modules.load}, initramfs-VER-HASH.cpio.gz,
// tree-FILES-BYTES/ (the share), accel.json (the KVM check's verdict), runs/ID/ (one per start: console.log,
// qemu.stderr.log, qemu.pid, exit.json, launch.json). Debian packages installed when missing (as root):
// qemu-system-x86 busybox-static kmod. The kernel is Debian's generic linux-image-6.1.0-XX-amd64 (the
// -cloud flavour has no 9p), fetched with `apt-get download` and unpacked with `dpkg-deb -x`, never installed.

import {spawn, spawnSync} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import {
	accessSync, constants, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync,
	readdirSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import {gzipSync} from 'node:zlib';

const scriptPath = fileURLToPath(import.meta.url);
const here = dirname(scriptPath);
const PACKAGES = ['qemu-system-x86', 'busybox-static', 'kmod'];
const QEMU = 'qemu-system-x86_64';
const TAG = 'hostshare';
const MARKER = 'PMPTOP-VM: ';
const WAITS = {
	started: undefined,
	init: /PMPTOP-VM: init /,
	mounted: /PMPTOP-VM: mounted /,
	copy: /PMPTOP-VM: copy start /,
	end: /PMPTOP-VM: end /,
};
// The modules 9p over virtio-pci needs, their dependencies first (DOMAIN.md section 7).
const MODULE_ROOTS = ['virtio_pci', '9pnet_virtio', '9p'];

let jsonMode = false;
const log = message => process.stderr.write(`vm: ${message}\n`);

class Failure extends Error {}
const fail = message => {
	throw new Failure(message);
};

function run(cmd, args, options = {}) {
	const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 64 << 20, ...options});
	if (r.error) fail(`${cmd}: ${r.error.message}`);
	return r;
}

function runOk(cmd, args, options = {}) {
	const r = run(cmd, args, options);
	if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}${r.stderr ? `: ${String(r.stderr).trim().split('\n').slice(-3).join(' / ')}` : ''}`);
	return r;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const seconds = sinceMs => ((Date.now() - sinceMs) / 1000).toFixed(1);

function parseSize(text) {
	const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(String(text).trim());
	if (!m) fail(`not a size: ${text}`);
	const mult = {'': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3}[m[2].toLowerCase()];
	return Math.round(Number(m[1]) * mult);
}

function positiveInt(text, name, min = 1) {
	const n = Number(text);
	if (!Number.isInteger(n) || n < min) fail(`--${name} wants an integer >= ${min}, got ${text}`);
	return n;
}

// ---------------------------------------------------------------------------------------------------------
// Packages

function installed(pkg) {
	const r = run('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg]);
	return r.status === 0 && r.stdout.startsWith('ii');
}

let aptUpdated = false;
function aptUpdate() {
	if (aptUpdated) return;
	log('apt-get update');
	runOk('apt-get', ['update', '-q'], {stdio: ['ignore', 2, 2], env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'}});
	aptUpdated = true;
}

function ensurePackages(opts) {
	const missing = PACKAGES.filter(p => !installed(p));
	if (missing.length === 0) return;
	if (opts.noInstall) fail(`missing Debian packages: ${missing.join(' ')} (apt-get install ${missing.join(' ')})`);
	if (process.getuid?.() !== 0) fail(`missing Debian packages: ${missing.join(' ')}; as root: apt-get install --no-install-recommends ${missing.join(' ')}`);
	const t0 = Date.now();
	aptUpdate();
	log(`installing ${missing.join(' ')}`);
	runOk('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {stdio: ['ignore', 2, 2], env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'}});
	log(`packages installed in ${seconds(t0)} s`);
}

// ---------------------------------------------------------------------------------------------------------
// Kernel: Debian's generic kernel unpacked from its package, plus the modules 9p needs.

function cachedKernels(cache) {
	if (!existsSync(cache)) return [];
	return readdirSync(cache)
		.filter(n => n.startsWith('kernel-') && existsSync(join(cache, n, 'modules.load')))
		.map(n => n.slice('kernel-'.length))
		.sort((a, b) => kernelAbi(b) - kernelAbi(a));
}

function kernelAbi(version) {
	return Number(/^\d+\.\d+\.\d+-(\d+)-/.exec(version)?.[1] ?? 0);
}

// The current generic amd64 kernel's version (6.1.0-XX-amd64) as apt knows it.
function currentKernelVersion() {
	const fromMeta = () => {
		const r = run('apt-cache', ['depends', 'linux-image-amd64']);
		const m = /Depends:\s*linux-image-(\d+\.\d+\.\d+-\d+-amd64)\b/.exec(r.stdout ?? '');
		if (m) return m[1];
		const s = run('apt-cache', ['search', '--names-only', '^linux-image-[0-9.]+-[0-9]+-amd64$']);
		const versions = [...(s.stdout ?? '').matchAll(/^linux-image-(\d+\.\d+\.\d+-\d+-amd64) /gm)].map(x => x[1]);
		return versions.sort((a, b) => kernelAbi(b) - kernelAbi(a))[0];
	};
	let version = fromMeta();
	if (!version && process.getuid?.() === 0) {
		aptUpdate();
		version = fromMeta();
	}
	if (!version) fail('apt-cache knows no linux-image-6.1.0-XX-amd64 package (run apt-get update, or pass --kernel VERSION)');
	return version;
}

function ensureKernel(cache, opts, timings) {
	const wanted = opts.kernel ?? cachedKernels(cache)[0] ?? currentKernelVersion();
	if (wanted.includes('cloud')) fail(`${wanted}: the -cloud kernel has no 9p (CONFIG_NET_9P unset); use the generic -amd64 one`);
	const dir = join(cache, `kernel-${wanted}`);
	if (existsSync(join(dir, 'modules.load'))) return {version: wanted, dir};

	const t0 = Date.now();
	const downloads = join(cache, 'downloads');
	mkdirSync(downloads, {recursive: true});
	const pkg = `linux-image-${wanted}`;
	log(`downloading ${pkg} (apt-get download)`);
	const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
	let r = run('apt-get', ['download', ...sandbox, pkg], {cwd: downloads, stdio: ['ignore', 2, 'pipe']});
	if (r.status !== 0 && process.getuid?.() === 0) {
		aptUpdate();
		r = run('apt-get', ['download', ...sandbox, pkg], {cwd: downloads, stdio: ['ignore', 2, 'pipe']});
	}
	if (r.status !== 0) fail(`apt-get download ${pkg} failed: ${String(r.stderr).trim()}`);
	const deb = readdirSync(downloads).find(n => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
	if (!deb) fail(`apt-get download ${pkg} left no .deb in ${downloads}`);
	timings.downloadS = Number(seconds(t0));

	const t1 = Date.now();
	const tmp = join(cache, `.unpack-${process.pid}`);
	rmSync(tmp, {recursive: true, force: true});
	try {
		runOk('dpkg-deb', ['-x', join(downloads, deb), tmp]);
		runOk('depmod', ['-b', tmp, wanted]);
		const order = [];
		for (const root of MODULE_ROOTS) {
			const out = runOk('modprobe', ['-d', tmp, '-S', wanted, '--show-depends', root]).stdout;
			for (const m of out.matchAll(/^insmod (\S+\.ko(?:\.[a-z]+)?)/gm)) {
				if (!order.includes(m[1])) order.push(m[1]);
			}
		}
		if (!order.some(p => /\/9p\.ko/.test(p))) fail(`${wanted} has no 9p module`);
		const staged = `${dir}.tmp-${process.pid}`;
		rmSync(staged, {recursive: true, force: true});
		mkdirSync(join(staged, 'modules'), {recursive: true});
		copyFileSync(join(tmp, 'boot', `vmlinuz-${wanted}`), join(staged, 'vmlinuz'));
		copyFileSync(join(tmp, 'boot', `config-${wanted}`), join(staged, 'config'));
		const names = [];
		for (const p of order) {
			const name = p.split('/').pop();
			if (/\.ko\.[a-z]+$/.test(name)) fail(`compressed module ${name}: not supported, busybox insmod wants plain .ko`);
			copyFileSync(p, join(staged, 'modules', name));
			names.push(name);
		}
		writeFileSync(join(staged, 'modules.load'), names.join('\n') + '\n');
		rmSync(dir, {recursive: true, force: true});
		renameSync(staged, dir);
		log(`kernel ${wanted}: modules ${names.map(n => n.replace(/\.ko$/, '')).join(' ')}`);
	} finally {
		rmSync(tmp, {recursive: true, force: true});
	}
	rmSync(join(downloads, deb), {force: true});
	timings.unpackS = Number(seconds(t1));
	return {version: wanted, dir};
}

// ---------------------------------------------------------------------------------------------------------
// Initramfs: busybox-static, the modules, and /init (written as a newc cpio here: no root needed for /dev/console).

const INIT = readFileSync(join(here, 'init.sh'), 'utf8');

function cpioNewc(entries) {
	const chunks = [];
	let ino = 1;
	const pad = len => Buffer.alloc((4 - (len % 4)) % 4);
	const hex = n => n.toString(16).padStart(8, '0');
	const add = (name, mode, data = Buffer.alloc(0), rdev = [0, 0]) => {
		const nameBuf = Buffer.from(name + '\0');
		const fields = [ino++, mode, 0, 0, (mode & 0o170000) === 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0];
		const header = Buffer.from('070701' + fields.map(hex).join(''));
		chunks.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
	};
	for (const e of entries) add(e.name, e.mode, e.data, e.rdev);
	ino = 0;
	add('TRAILER!!!', 0);
	return Buffer.concat(chunks);
}

function busyboxPath() {
	const r = run('dpkg-query', ['-L', 'busybox-static']);
	const path = (r.stdout ?? '').split('\n').find(p => /\/bin\/busybox$/.test(p)) ?? '/bin/busybox';
	if (!existsSync(path)) fail(`busybox not found at ${path} (apt-get install busybox-static)`);
	return path;
}

function ensureInitramfs(cache, kernel, timings) {
	const busybox = busyboxPath();
	const names = readFileSync(join(kernel.dir, 'modules.load'), 'utf8').split('\n').filter(Boolean);
	const bb = readFileSync(busybox);
	const hash = createHash('sha256').update(INIT).update(bb).update(names.join(',')).digest('hex').slice(0, 12);
	const path = join(cache, `initramfs-${kernel.version}-${hash}.cpio.gz`);
	if (existsSync(path)) return path;
	const t0 = Date.now();
	const entries = [
		...['bin', 'dev', 'proc', 'sys', 'mnt', 'dst', 'tmp', 'lib', 'lib/modules'].map(name => ({name, mode: 0o040755})),
		{name: 'dev/console', mode: 0o020600, rdev: [5, 1]},
		{name: 'dev/null', mode: 0o020666, rdev: [1, 3]},
		{name: 'bin/busybox', mode: 0o100755, data: bb},
		{name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox')},
		{name: 'init', mode: 0o100755, data: Buffer.from(INIT)},
		{name: 'modules.load', mode: 0o100644, data: Buffer.from(names.join('\n') + '\n')},
		...names.map(n => ({name: `lib/modules/${n}`, mode: 0o100644, data: readFileSync(join(kernel.dir, 'modules', n))})),
	];
	const image = gzipSync(cpioNewc(entries), {level: 9});
	for (const old of readdirSync(cache).filter(n => n.startsWith(`initramfs-${kernel.version}-`))) rmSync(join(cache, old), {force: true});
	writeFileSync(`${path}.tmp-${process.pid}`, image);
	renameSync(`${path}.tmp-${process.pid}`, path);
	timings.initramfsS = Number(seconds(t0));
	log(`initramfs ${path} (${(image.length / 1024 / 1024).toFixed(2)} MiB) built in ${timings.initramfsS} s`);
	return path;
}

// ---------------------------------------------------------------------------------------------------------
// The shared tree: FILES files, BYTES in total, sizes spread 1/4..7/4 of the mean, 50 files per directory.

function ensureTree(cache, files, bytes, timings) {
	const dir = join(cache, `tree-${files}-${bytes}`);
	const stamp = `${dir}.complete`;
	if (existsSync(stamp) && existsSync(dir)) return dir;
	const t0 = Date.now();
	const staged = `${dir}.tmp-${process.pid}`;
	rmSync(staged, {recursive: true, force: true});
	const mean = bytes / files;
	// Deterministic sizes (xorshift) summing to `bytes`.
	let s = 0x9e3779b9;
	const rnd = () => {
		s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
		return s / 2 ** 32;
	};
	const sizes = Array.from({length: files}, () => mean * (0.25 + 1.5 * rnd()));
	const scale = bytes / sizes.reduce((a, b) => a + b, 0);
	const ints = sizes.map(x => Math.max(0, Math.floor(x * scale)));
	ints[0] += bytes - ints.reduce((a, b) => a + b, 0);
	const pool = randomBytes(4 << 20);
	for (let i = 0; i < files; i++) {
		const d = join(staged, `d${String(Math.floor(i / 500)).padStart(2, '0')}`, `s${String(Math.floor(i / 50) % 10)}`);
		if (i % 50 === 0) mkdirSync(d, {recursive: true});
		const size = ints[i];
		const buf = Buffer.allocUnsafe(size);
		for (let off = 0; off < size;) {
			const start = Math.floor(rnd() * (pool.length - 65536));
			const n = Math.min(65536, size - off);
			pool.copy(buf, off, start, start + n);
			off += n;
		}
		writeFileSync(join(d, `f${String(i).padStart(5, '0')}.bin`), buf);
	}
	rmSync(dir, {recursive: true, force: true});
	renameSync(staged, dir);
	writeFileSync(stamp, JSON.stringify({files, bytes}) + '\n');
	timings.treeS = Number(seconds(t0));
	log(`tree ${dir}: ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, generated in ${timings.treeS} s`);
	return dir;
}

// ---------------------------------------------------------------------------------------------------------
// QEMU

function qemuArgv({kernel, initramfs, tree, consolePath, accel, msize, copies, copySeconds, namedThreads, smp, mem, check}) {
	const append = ['console=ttyS0', 'quiet', 'panic=-1', `pmptop.msize=${msize}`, `pmptop.copies=${copies}`, `pmptop.seconds=${copySeconds ?? 0}`, `pmptop.tag=${TAG}`];
	if (check) append.push('pmptop.check=1');
	const argv = [
		QEMU,
		'-name', namedThreads ? 'pmptop-vm,debug-threads=on' : 'pmptop-vm',
		...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
		'-m', mem, '-smp', String(smp),
		'-nodefaults', '-display', 'none', '-no-reboot',
		'-kernel', join(kernel.dir, 'vmlinuz'), '-initrd', initramfs, '-append', append.join(' '),
		'-chardev', `file,id=con,path=${consolePath}`, '-serial', 'chardev:con',
	];
	if (tree) argv.push('-virtfs', `local,path=${tree},mount_tag=${TAG},security_model=none`);
	return argv;
}

function kvmUsable() {
	try {
		accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
		return true;
	} catch {
		return false;
	}
}

// auto: boot the kernel under KVM to /init once (cached per host kernel, QEMU and guest kernel); TCG otherwise.
async function resolveAccel(cache, want, kernel, initramfs) {
	if (want === 'tcg' || want === 'kvm') return want;
	if (!kvmUsable()) {
		log('accel: /dev/kvm not usable, using TCG');
		return 'tcg';
	}
	const qemuVersion = run(QEMU, ['--version']).stdout?.split('\n')[0] ?? '?';
	const hostKernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
	const key = `${hostKernel}|${qemuVersion}|${kernel.version}`;
	const file = join(cache, 'accel.json');
	try {
		const saved = JSON.parse(readFileSync(file, 'utf8'));
		if (saved.key === key) {
			log(`accel: ${saved.kvm ? 'KVM' : 'TCG'} (KVM check cached: ${saved.detail})`);
			return saved.kvm ? 'kvm' : 'tcg';
		}
	} catch {}
	log('accel: checking that KVM really boots (up to 30 s)');
	const dir = join(cache, `.kvmcheck-${process.pid}`);
	mkdirSync(dir, {recursive: true});
	const consolePath = join(dir, 'console.log');
	const argv = qemuArgv({kernel, initramfs, consolePath, accel: 'kvm', msize: 8192, copies: 1, smp: 1, mem: '256M', check: true});
	const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'ignore', 'pipe']});
	let stderr = '';
	child.stderr.on('data', d => (stderr += d));
	const exited = new Promise(resolve => child.on('close', (code, signal) => resolve({code, signal})));
	const t0 = Date.now();
	let ok = false;
	let done;
	void exited.then(r => (done = r));
	while (Date.now() - t0 < 30_000 && !done) {
		await sleep(250);
		if (/PMPTOP-VM: check ok/.test(readText(consolePath))) {
			ok = true;
			break;
		}
	}
	if (!done) {
		child.kill('SIGKILL');
		await exited;
		done = undefined;
	}
	const lastErr = stderr.trim().split('\n').pop();
	const detail = ok ? `booted to /init in ${seconds(t0)} s`
		: done ? `QEMU exited ${done.code ?? done.signal}${lastErr ? `: ${lastErr}` : ''}`
		: `no /init within 30 s${lastErr ? ` (${lastErr})` : ''}`;
	rmSync(dir, {recursive: true, force: true});
	writeFileSync(file, JSON.stringify({key, kvm: ok, detail, atMs: Date.now()}) + '\n');
	log(`accel: ${ok ? 'KVM' : 'TCG'} (KVM check: ${detail})`);
	return ok ? 'kvm' : 'tcg';
}

function readText(path) {
	try {
		return readFileSync(path, 'utf8');
	} catch {
		return '';
	}
}

function readJson(path) {
	try {
		return JSON.parse(readFileSync(path, 'utf8'));
	} catch {
		return undefined;
	}
}

function cmdlineOf(pid) {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
	} catch {
		return undefined;
	}
}

function alive(pid) {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return !/^\S+ \(.*\) Z /.test(stat);
	} catch {
		return false;
	}
}

function lastMarker(consolePath) {
	const lines = readText(consolePath).split(/\r?\n/).filter(l => l.includes(MARKER));
	return lines.length ? lines[lines.length - 1].slice(lines[lines.length - 1].indexOf(MARKER) + MARKER.length).trim() : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Commands

function resolveOptions(values) {
	const cache = resolve(values.cache ?? (process.env.PMPTOP_VM_CACHE || join(here, 'cache')));
	const copies = values.once ? 1 : values.copies === undefined ? 0 : positiveInt(values.copies, 'copies', 0);
	const accel = values.accel ?? 'auto';
	if (!['auto', 'kvm', 'tcg'].includes(accel)) fail(`--accel wants auto, kvm or tcg, got ${accel}`);
	const wait = values.wait ?? 'started';
	if (!(wait in WAITS)) fail(`--wait wants one of ${Object.keys(WAITS).join(', ')}, got ${wait}`);
	const msize = positiveInt(values.msize ?? '8192', 'msize', 512);
	return {
		cache,
		msize,
		copies,
		copySeconds: values.seconds === undefined ? 0 : positiveInt(values.seconds, 'seconds', 0),
		accel,
		wait,
		namedThreads: Boolean(values['named-threads']),
		files: positiveInt(values.files ?? '2500', 'files'),
		bytes: parseSize(values.size ?? '160M'),
		smp: positiveInt(values.smp ?? '2', 'smp'),
		mem: values.mem ?? '1G',
		background: Boolean(values.background),
		timeoutS: Number(values.timeout ?? 300),
		noInstall: Boolean(values['no-install']),
		kernel: values.kernel,
	};
}

function prepare(opts) {
	const t0 = Date.now();
	const timings = {};
	ensurePackages(opts);
	mkdirSync(opts.cache, {recursive: true});
	const kernel = ensureKernel(opts.cache, opts, timings);
	const initramfs = ensureInitramfs(opts.cache, kernel, timings);
	const tree = ensureTree(opts.cache, opts.files, opts.bytes, timings);
	timings.prepareS = Number(seconds(t0));
	return {cache: opts.cache, kernel, initramfs, tree, timings};
}

function newRunDir(cache) {
	const runs = join(cache, 'runs');
	mkdirSync(runs, {recursive: true});
	// Keep the last 20 finished runs.
	const old = readdirSync(runs).sort();
	for (const id of old.slice(0, Math.max(0, old.length - 20))) {
		const pid = Number(readText(join(runs, id, 'qemu.pid')));
		if (!(pid && alive(pid))) rmSync(join(runs, id), {recursive: true, force: true});
	}
	const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
	const id = `${stamp}-${randomBytes(2).toString('hex')}`;
	const dir = join(runs, id);
	mkdirSync(dir);
	return {id, dir};
}

async function start(opts) {
	const prep = prepare(opts);
	const accel = await resolveAccel(opts.cache, opts.accel, prep.kernel, prep.initramfs);
	const runDir = newRunDir(opts.cache);
	const paths = {
		console: join(runDir.dir, 'console.log'),
		stderr: join(runDir.dir, 'qemu.stderr.log'),
		exitFile: join(runDir.dir, 'exit.json'),
		pidFile: join(runDir.dir, 'qemu.pid'),
	};
	const argv = qemuArgv({kernel: prep.kernel, initramfs: prep.initramfs, tree: prep.tree, consolePath: paths.console, accel, msize: opts.msize, copies: opts.copies, copySeconds: opts.copySeconds, namedThreads: opts.namedThreads, smp: opts.smp, mem: opts.mem});
	writeFileSync(join(runDir.dir, 'launch.json'), JSON.stringify({argv, ...paths}, null, 2) + '\n');
	writeFileSync(paths.console, '');
	const info = pid => ({
		pid, console: paths.console, stderr: paths.stderr, exitFile: paths.exitFile, runDir: runDir.dir,
		accel, msize: opts.msize, copies: opts.copies, seconds: opts.copySeconds, namedThreads: opts.namedThreads, kernel: prep.kernel.version,
		tree: prep.tree, files: opts.files, bytes: opts.bytes, argv,
	});
	const stopHint = pid => `stop it with: node ${scriptPath} stop ${pid}${opts.cache === resolve(process.env.PMPTOP_VM_CACHE || join(here, 'cache')) ? '' : ` --cache ${opts.cache}`}`;

	if (opts.background) {
		const supLog = openSync(join(runDir.dir, 'supervisor.log'), 'a');
		const sup = spawn(process.execPath, [scriptPath, '__supervise', runDir.dir], {detached: true, stdio: ['ignore', supLog, supLog]});
		sup.unref();
		closeSync(supLog);
		const t0 = Date.now();
		let pid;
		while (!pid && Date.now() - t0 < 10_000) {
			await sleep(50);
			pid = Number(readText(paths.pidFile)) || undefined;
		}
		if (!pid) fail(`QEMU did not start (see ${join(runDir.dir, 'supervisor.log')})`);
		await sleep(500);
		const early = readJson(paths.exitFile);
		if (early) fail(`QEMU exited at once (${early.code ?? early.signal}): ${readText(paths.stderr).trim()}`);
		const marker = WAITS[opts.wait];
		if (marker) {
			log(`QEMU PID ${pid} running; waiting for "${marker.source}" on the console`);
			while (!marker.test(readText(paths.console))) {
				const ended = readJson(paths.exitFile);
				if (ended) fail(`QEMU exited (${ended.code ?? ended.signal}) before "${marker.source}"; console ${paths.console}, last marker: ${lastMarker(paths.console) ?? 'none'}`);
				if (Date.now() - t0 > opts.timeoutS * 1000) fail(`no "${marker.source}" within ${opts.timeoutS} s (QEMU PID ${pid} left running; console ${paths.console})`);
				await sleep(200);
			}
			log(`"${opts.wait}" after ${seconds(t0)} s`);
		}
		log(`QEMU PID ${pid} (${accel}, msize ${opts.msize}), console ${paths.console}`);
		log(stopHint(pid));
		if (jsonMode) process.stdout.write(JSON.stringify(info(pid)) + '\n');
		else process.stdout.write(`${pid}\n`);
		return 0;
	}

	// Foreground: QEMU is our child; the console is streamed; Ctrl-C / SIGTERM stop the VM.
	const errFd = openSync(paths.stderr, 'a');
	const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', errFd, 'pipe']});
	closeSync(errFd);
	writeFileSync(paths.pidFile, `${child.pid}\n`);
	child.stderr.on('data', d => {
		process.stderr.write(d);
		writeFileSync(paths.stderr, d, {flag: 'a'});
	});
	const out = jsonMode ? process.stderr : process.stdout;
	if (jsonMode) process.stdout.write(JSON.stringify(info(child.pid)) + '\n');
	log(`QEMU PID ${child.pid} (${accel}, msize ${opts.msize}), console ${paths.console}; Ctrl-C stops it`);
	const stopChild = () => child.kill('SIGTERM');
	process.on('SIGINT', stopChild);
	process.on('SIGTERM', stopChild);
	process.on('SIGHUP', stopChild);
	let offset = 0;
	const pump = () => {
		try {
			const fd = openSync(paths.console, 'r');
			const buf = Buffer.alloc(64 * 1024);
			for (;;) {
				const n = readSync(fd, buf, 0, buf.length, offset);
				if (n <= 0) break;
				offset += n;
				out.write(buf.subarray(0, n));
			}
			closeSync(fd);
		} catch {}
	};
	const timer = setInterval(pump, 200);
	const {code, signal} = await new Promise(resolve => child.on('close', (c, s) => resolve({code: c, signal: s})));
	clearInterval(timer);
	pump();
	writeFileSync(paths.exitFile, JSON.stringify({code, signal, endedAtMs: Date.now()}) + '\n');
	log(`QEMU exited ${code ?? signal}`);
	return code ?? 1;
}

// Runs detached: starts QEMU, records its PID, waits, records how it ended.
async function supervise(runDir) {
	const launch = JSON.parse(readFileSync(join(runDir, 'launch.json'), 'utf8'));
	const errFd = openSync(launch.stderr, 'a');
	const child = spawn(launch.argv[0], launch.argv.slice(1), {stdio: ['ignore', errFd, errFd]});
	closeSync(errFd);
	child.on('error', e => {
		writeFileSync(launch.exitFile, JSON.stringify({code: null, signal: null, error: e.message, endedAtMs: Date.now()}) + '\n');
		process.exit(1);
	});
	if (child.pid) writeFileSync(launch.pidFile, `${child.pid}\n`);
	for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill('SIGTERM'));
	const {code, signal} = await new Promise(resolve => child.on('close', (c, s) => resolve({code: c, signal: s})));
	writeFileSync(launch.exitFile, JSON.stringify({code, signal, endedAtMs: Date.now()}) + '\n');
	return 0;
}

function listRuns(cache) {
	const runs = join(cache, 'runs');
	if (!existsSync(runs)) return [];
	return readdirSync(runs).sort().map(id => {
		const dir = join(runs, id);
		const pid = Number(readText(join(dir, 'qemu.pid'))) || undefined;
		const console = join(dir, 'console.log');
		const exit = readJson(join(dir, 'exit.json'));
		// Alive only when the PID still is our QEMU (its command line names this run's console).
		const isOurs = pid !== undefined && !exit && alive(pid) && (cmdlineOf(pid) ?? []).some(a => a.includes(console));
		const stopped = Boolean(exit) && /terminating on signal/.test(readText(join(dir, 'qemu.stderr.log')));
		return {id, pid, alive: isOurs, exit, stopped, lastMarker: lastMarker(console), console, runDir: dir};
	});
}

async function stop(opts, pids, all) {
	const runs = listRuns(opts.cache).filter(r => r.alive);
	const targets = pids.length ? pids.map(pid => {
		const r = runs.find(x => x.pid === pid);
		if (!r) fail(`PID ${pid} is not a running VM of ${opts.cache} (see: node ${scriptPath} status)`);
		return r;
	}) : runs;
	if (!pids.length && !all && runs.length > 1) log(`stopping all ${runs.length} running VMs`);
	if (targets.length === 0) log('no running VM');
	for (const r of targets) {
		log(`stopping QEMU PID ${r.pid} (run ${r.id})`);
		try {
			process.kill(r.pid, 'SIGTERM');
			process.kill(r.pid, 'SIGCONT'); // a VM left job-stopped by a profiler still gets the SIGTERM
		} catch {}
	}
	const t0 = Date.now();
	for (const r of targets) {
		while (alive(r.pid) && Date.now() - t0 < 10_000) await sleep(100);
		if (alive(r.pid)) {
			log(`QEMU PID ${r.pid} still runs after 10 s: SIGKILL`);
			try {
				process.kill(r.pid, 'SIGKILL');
			} catch {}
		}
	}
	if (jsonMode) process.stdout.write(JSON.stringify(targets.map(r => r.pid)) + '\n');
	return 0;
}

function status(opts) {
	const runs = listRuns(opts.cache);
	if (jsonMode) {
		process.stdout.write(JSON.stringify(runs) + '\n');
		return 0;
	}
	if (runs.length === 0) process.stdout.write(`no runs in ${opts.cache}\n`);
	for (const r of runs) {
		const state = r.alive ? 'running' : r.stopped ? 'stopped' : r.exit ? `exited ${r.exit.code ?? r.exit.signal}` : 'gone';
		process.stdout.write(`${r.id}  PID ${r.pid ?? '-'}  ${state}  last: ${r.lastMarker ?? '-'}  ${r.console}\n`);
	}
	return 0;
}

async function main(argv) {
	if (argv[0] === '__supervise') return supervise(argv[1]);
	const {values, positionals} = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			cache: {type: 'string'}, msize: {type: 'string'}, once: {type: 'boolean'}, copies: {type: 'string'}, seconds: {type: 'string'},
			'named-threads': {type: 'boolean'}, files: {type: 'string'}, size: {type: 'string'}, accel: {type: 'string'},
			smp: {type: 'string'}, mem: {type: 'string'}, background: {type: 'boolean'}, wait: {type: 'string'},
			timeout: {type: 'string'}, json: {type: 'boolean'}, 'no-install': {type: 'boolean'}, kernel: {type: 'string'},
			kill: {type: 'string'}, all: {type: 'boolean'}, help: {type: 'boolean', short: 'h'},
		},
	});
	jsonMode = Boolean(values.json);
	if (values.help || (positionals.length === 0 && values.kill === undefined)) {
		const text = readFileSync(scriptPath, 'utf8').split('\n').slice(1).filter(l => l.startsWith('//')).map(l => l.replace(/^\/\/ ?/, ''));
		(values.help ? process.stdout : process.stderr).write(text.slice(0, text.findIndex(l => l.startsWith('Console markers'))).join('\n').trimEnd() + '\n');
		return values.help ? 0 : 2;
	}
	const opts = resolveOptions(values);
	if (values.kill !== undefined) return stop(opts, [positiveInt(values.kill, 'kill')], false);
	const [command, ...rest] = positionals;
	switch (command) {
		case 'prepare': {
			const prep = prepare(opts);
			const result = {cache: prep.cache, kernel: prep.kernel.version, vmlinuz: join(prep.kernel.dir, 'vmlinuz'), initramfs: prep.initramfs, tree: prep.tree, files: opts.files, bytes: opts.bytes, timings: prep.timings};
			process.stdout.write(jsonMode ? JSON.stringify(result) + '\n' : `ready in ${prep.timings.prepareS} s: kernel ${result.kernel}, ${result.initramfs}, ${result.tree}\n`);
			return 0;
		}
		case 'start': return start(opts);
		case 'stop': return stop(opts, rest.map(p => positiveInt(p, 'PID')), Boolean(values.all));
		case 'status': return status(opts);
		default: fail(`unknown command ${command} (prepare, start, stop, status)`);
	}
}

main(process.argv.slice(2)).then(
	code => {
		process.exitCode = code;
	},
	error => {
		log(error instanceof Failure || String(error?.code).startsWith('ERR_PARSE_ARGS') ? error.message : error.stack);
		process.exitCode = 1;
	},
);
