// Build and start the bundled demo target (demo/target/qemu-demo.c), for `pmptop --demo`, tests and benchmarks.

import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {ProfilerError} from './errors.js';

/** The repository root, found from this file whether it runs from src/ (tests) or dist/src/ (built). */
export function repoRoot(): string {
	let dir = dirname(fileURLToPath(import.meta.url));
	for (let i = 0; i < 4; i++) {
		if (existsSync(join(dir, 'demo', 'build.mjs'))) return dir;
		dir = dirname(dir);
	}
	throw new ProfilerError('cannot find the demo/ folder next to pmptop');
}

/** Path of the demo binary. */
export function demoBinary(): string {
	return join(repoRoot(), 'demo', 'target', 'bin', 'qemu-demo');
}

/** Build the demo target when missing or stale; throws a one-line ProfilerError when gcc fails. */
export function buildDemo(): string {
	const r = spawnSync(process.execPath, [join(repoRoot(), 'demo', 'build.mjs')], {encoding: 'utf8'});
	if (r.status !== 0) throw new ProfilerError((r.stderr || r.stdout || 'cannot build the demo target').trim().split('\n')[0]!);
	return demoBinary();
}

/** A running demo target. */
export interface DemoProcess {
	pid: number;
	child: ChildProcess;
	/** Stop it (SIGTERM, then SIGKILL) and wait. */
	kill(): Promise<void>;
}

/** Start the demo target and resolve once it reports ready (all threads started and named). */
export function startDemo(args: string[] = [], timeoutMs = 10_000): Promise<DemoProcess> {
	const binary = buildDemo();
	return new Promise((resolve, reject) => {
		const child = spawn(binary, args, {stdio: ['ignore', 'pipe', 'pipe']});
		let buffer = '';
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new ProfilerError('the demo target did not start in time'));
		}, timeoutMs);
		child.on('error', error => {
			clearTimeout(timer);
			reject(new ProfilerError(`cannot start the demo target: ${error.message}`));
		});
		child.stdout!.setEncoding('utf8');
		const onData = (chunk: string) => {
			buffer += chunk;
			if (!buffer.includes('"ready":true')) return;
			clearTimeout(timer);
			child.stdout!.off('data', onData);
			// Keep draining its progress lines so the pipe never fills.
			child.stdout!.resume();
			resolve({
				pid: child.pid!,
				child,
				kill: () => new Promise<void>(done => {
					if (child.exitCode !== null || child.signalCode !== null) return done();
					const hard = setTimeout(() => child.kill('SIGKILL'), 2000);
					child.once('exit', () => {
						clearTimeout(hard);
						done();
					});
					child.kill('SIGTERM');
				}),
			});
		};
		child.stdout!.on('data', onData);
		child.stderr!.resume();
	});
}

/** What `pmptop --demo vm` passes on to demo/vm/vm.mjs. */
export interface VmDemoOptions {
	/** 9p msize the guest mounts with (vm.mjs default: 8192, the slow case). */
	msize?: number;
	/** `-name ...,debug-threads=on`: QEMU names its threads (default off, as on NixOS). */
	namedThreads?: boolean;
}

/**
Start the real QEMU 9p VM of demo/vm/vm.mjs (prepared and cached on first use: packages, kernel, initramfs,
tree) and resolve once the guest copies the shared tree. vm.mjs reports its progress on stderr, which is ours:
the first run takes a minute or more. `kill()` stops the VM through vm.mjs.
*/
export function startVmDemo(options: VmDemoOptions = {}, timeoutS = 300): Promise<DemoProcess> {
	const script = join(repoRoot(), 'demo', 'vm', 'vm.mjs');
	const args = [script, 'start', '--background', '--json', '--wait', 'copy', '--timeout', String(timeoutS)];
	if (options.msize !== undefined) args.push('--msize', String(options.msize));
	if (options.namedThreads) args.push('--named-threads');
	const stop = (pid: number) => new Promise<void>(done => {
		const child = spawn(process.execPath, [script, 'stop', String(pid)], {stdio: 'ignore'});
		child.on('error', () => done());
		child.on('close', () => done());
	});
	return new Promise((resolve, reject) => {
		// Its own process group: a Ctrl-C while the VM boots reaches pmptop, which then stops the VM, and not vm.mjs,
		// which would die and leave QEMU running.
		const child = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], detached: true});
		let out = '';
		let qemuPid: number | undefined;
		child.stdout!.setEncoding('utf8');
		child.stdout!.on('data', (chunk: string) => (out += chunk));
		// Its progress is shown as it comes; the QEMU PID is noted, to stop a VM left behind by a failed start.
		child.stderr!.setEncoding('utf8');
		child.stderr!.on('data', (chunk: string) => {
			process.stderr.write(chunk);
			const m = /QEMU PID (\d+)/.exec(chunk);
			if (m) qemuPid ??= Number(m[1]);
		});
		child.on('error', error => reject(new ProfilerError(`cannot run ${script}: ${error.message}`)));
		child.on('close', code => {
			let info: {pid?: number} | undefined;
			try {
				info = JSON.parse(out.trim().split('\n').pop() ?? '') as {pid?: number};
			} catch {}
			if (code !== 0 || !info?.pid) {
				// vm.mjs has said why on stderr already.
				const error = new ProfilerError(`the demo VM did not start (demo/vm/vm.mjs exited ${code})`);
				if (qemuPid === undefined) return reject(error);
				return void stop(qemuPid).then(() => reject(error));
			}
			const pid = info.pid;
			resolve({pid, child, kill: () => stop(pid)});
		});
	});
}
