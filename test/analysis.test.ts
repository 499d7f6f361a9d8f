import {describe, expect, it} from 'vitest';
import {parseBatchBacktrace} from '../src/gdb/batch-parse.js';
import {Analysis, ninepOperation} from '../src/profile/analysis.js';
import type {Sample, ThreadStack} from '../src/profile/model.js';
import {readQemuFixture} from './helpers/fixtures.js';

const stack = (tid: number, name: string, rootToLeaf: string[]): ThreadStack => ({tid, name, frames: rootToLeaf.map(func => ({func, lib: '/usr/bin/qemu-system-x86_64'})).reverse()});
const sample = (atMs: number, threads: ThreadStack[]): Sample => ({atMs, stopMs: 1, threads, errors: []});
const workerStack = (tid: number, leaf: string) => stack(tid, 'worker', ['start_thread', 'qemu_thread_start', 'worker_thread', leaf]);

describe('Analysis', () => {
	it('group views keep counts across a worker TID that vanishes and a new one that appears', () => {
		const a = new Analysis();
		for (let i = 0; i < 5; i++) a.ingest(sample(i * 100, [stack(1, 'qemu', ['main', 'qemu_main_loop', 'ppoll']), workerStack(10, 'preadv64')]));
		// Worker 10 exits (idle workers exit after 10 s); worker 11 appears.
		for (let i = 5; i < 8; i++) a.ingest(sample(i * 100, [stack(1, 'qemu', ['main', 'qemu_main_loop', 'ppoll']), workerStack(11, 'openat64')]));
		const p = a.profile;
		expect(p.series.get('tid:10')!.goneAtMs).toBe(500);
		expect(p.counts('role:worker', 'all')!.samples).toBe(8);
		const rows = p.top('role:worker', {window: 'all'});
		expect(rows.find(r => r.func === 'preadv64')).toMatchObject({own: 5});
		expect(rows.find(r => r.func === 'openat64')).toMatchObject({own: 3});
		expect(rows.find(r => r.func === 'worker_thread')).toMatchObject({total: 8, totalShare: 1});
		expect(p.series.has('role:main')).toBe(false);
	});

	it('lets the nearest named frame own a stack whose leaf is ??', () => {
		const a = new Analysis();
		a.ingest(sample(0, [{tid: 5, name: 'x', frames: [{func: '??', lib: '/lib/libc.so.6'}, {func: 'pthread_cond_timedwait', lib: '/lib/libc.so.6'}, {func: '??', lib: '/usr/bin/qemu'}, {func: 'qemu_cond_timedwait_impl', lib: '/usr/bin/qemu'}]}]));
		const rows = a.profile.top('tid:5', {window: 'all'});
		expect(rows[0]).toMatchObject({func: 'pthread_cond_timedwait', own: 1});
		expect(rows.find(r => r.key === '?? (libc.so.6)')).toMatchObject({own: 0, total: 1});
	});

	it('classifies idle samples so that hiding them leaves the busy threads', () => {
		const a = new Analysis();
		for (let i = 0; i < 4; i++) {
			a.ingest(sample(i, [
				stack(1, 'qemu', ['main', 'qemu_main_loop', 'main_loop_wait', 'qemu_poll_ns', 'ppoll']),
				stack(2, 'CPU 0/KVM', ['kvm_vcpu_thread_fn', 'kvm_cpu_exec', 'vcpu_run', 'guest_compute']),
			]));
		}
		const all = a.profile.counts('all', 'all')!;
		expect(all.samples).toBe(8);
		expect(all.busySamples).toBe(4);
		expect(a.profile.counts('tid:1', 'all')!.busySamples).toBe(0);
		expect(a.profile.top('all', {window: 'all', hideIdle: true})[0]).toMatchObject({func: 'guest_compute', ownShare: 1});
	});

	it('gives every thread of the real default-name fixtures its role through a sample', () => {
		const a = new Analysis();
		const threads = parseBatchBacktrace(readQemuFixture('default-gdb-batch-nodebuginfo.txt'));
		a.ingest(sample(0, threads));
		expect(Object.fromEntries(threads.map(t => [t.tid, a.roleOf(t.tid)]))).toEqual({18577: 'main', 18582: 'rcu', 18583: 'vcpu', 18584: 'vcpu', 18723: 'worker', 18738: 'worker', 18815: 'worker'});
		expect([...a.workerTids()].sort()).toEqual([18723, 18738, 18815]);
	});

	it('labels the 9p operation of sampled stacks and reports the mix', () => {
		expect(ninepOperation(['get_fid', 'v9fs_walk', 'coroutine_trampoline'])).toBe('walk');
		expect(ninepOperation(['preadv64', 'local_preadv', 'v9fs_co_preadv', 'v9fs_read', 'coroutine_trampoline'])).toBe('read');
		expect(ninepOperation(['ppoll', 'main'])).toBeUndefined();
		const a = new Analysis();
		for (let i = 0; i < 3; i++) a.ingest(sample(i, [stack(1, 'q', ['coroutine_trampoline', 'v9fs_walk', 'get_fid'])]));
		a.ingest(sample(3, [stack(1, 'q', ['coroutine_trampoline', 'v9fs_clunk', 'clunk_fid'])]));
		expect(a.ninepMix()).toEqual([{op: 'walk', samples: 3, share: 0.75}, {op: 'clunk', samples: 1, share: 0.25}]);
	});
});
