// One place that turns samples into everything the views need: roles (from stacks), idle classification,
// role groups that survive TID churn, the 9p operation mix, and the aggregate itself. Pure, UI-free.

import {Profile, type ProfileOptions} from './aggregate.js';
import {classifyStack} from './idle.js';
import type {Sample} from './model.js';
import {RoleTracker, ROLE_LABELS, type Role} from './roles.js';

/** Roles that get a group series (`role:vcpu`...): threads of the same role summed, whatever their TIDs. */
export const GROUP_ROLES: readonly Role[] = ['vcpu', 'worker', 'iothread'];

/** Display name of a group series. */
export function groupName(role: Role): string {
	return role === 'vcpu' ? 'all vCPUs' : role === 'worker' ? 'all workers' : `all ${ROLE_LABELS[role] ?? role}`;
}

/**
9p operations by the QEMU function that serves them (hw/9pfs/9p.c, `v9fs_<op>`). Present only where QEMU has
symbols for its static functions (a self-built QEMU; Debian's is stripped).
*/
export const NINEP_OPS: Readonly<Record<string, string>> = {
	v9fs_walk: 'walk', v9fs_getattr: 'getattr', v9fs_setattr: 'setattr', v9fs_open: 'lopen', v9fs_lcreate: 'lcreate',
	v9fs_read: 'read', v9fs_write: 'write', v9fs_readdir: 'readdir', v9fs_clunk: 'clunk', v9fs_attach: 'attach',
	v9fs_version: 'version', v9fs_statfs: 'statfs', v9fs_xattrwalk: 'xattrwalk', v9fs_xattrcreate: 'xattrcreate',
	v9fs_readlink: 'readlink', v9fs_mkdir: 'mkdir', v9fs_mknod: 'mknod', v9fs_symlink: 'symlink', v9fs_link: 'link',
	v9fs_remove: 'remove', v9fs_unlinkat: 'unlinkat', v9fs_rename: 'rename', v9fs_renameat: 'renameat',
	v9fs_fsync: 'fsync', v9fs_lock: 'lock', v9fs_getlock: 'getlock', v9fs_flush: 'flush', v9fs_stat: 'stat',
	v9fs_wstat: 'wstat', v9fs_create: 'create',
};

/** The 9p operation a stack (leaf first) is serving, from its outermost `v9fs_<op>` frame, or undefined. */
export function ninepOperation(funcs: readonly string[]): string | undefined {
	for (let i = funcs.length - 1; i >= 0; i--) {
		const op = NINEP_OPS[funcs[i]!];
		if (op) return op;
	}
	return undefined;
}

export interface AnalysisOptions {
	windowsMs?: number[];
	/** Extra role rules would go to the RoleTracker; the default table is ROLE_RULES. */
	roles?: RoleTracker;
}

/** Samples in, Profile + roles + op mix out. */
export class Analysis {
	readonly roles: RoleTracker;
	readonly profile: Profile;
	/** Sampled 9p work: thread-samples per operation over the whole run. */
	readonly ninepOps = new Map<string, number>();

	constructor(options: AnalysisOptions = {}) {
		this.roles = options.roles ?? new RoleTracker();
		const profileOptions: ProfileOptions = {
			windowsMs: options.windowsMs,
			classify: classifyStack,
			groupsOf: tid => {
				const role = this.roles.roleOf(tid);
				return GROUP_ROLES.includes(role) ? [`role:${role}`] : [];
			},
		};
		this.profile = new Profile(profileOptions);
	}

	/** Learn roles from the sample's stacks, then aggregate it. */
	ingest(sample: Sample): void {
		for (const t of sample.threads) {
			this.roles.observe(t);
			const op = ninepOperation(t.frames.map(f => f.func));
			if (op) this.ninepOps.set(op, (this.ninepOps.get(op) ?? 0) + 1);
		}
		this.profile.ingest(sample);
	}

	/** The role of a thread, or undefined when unknown. */
	roleOf = (tid: number): Role | undefined => {
		const role = this.roles.roleOf(tid);
		return role === 'unknown' ? undefined : role;
	};

	/** TIDs whose stacks show the worker role (for the I/O panel's worker group when names are missing). */
	workerTids(): Set<number> {
		const tids = new Set<number>();
		for (const s of this.profile.threads()) {
			const tid = Number(s.key.slice(4));
			if (this.roles.roleOf(tid) === 'worker') tids.add(tid);
		}
		return tids;
	}

	/** The sampled 9p operation mix as shares, largest first. */
	ninepMix(): Array<{op: string; samples: number; share: number}> {
		const total = [...this.ninepOps.values()].reduce((a, b) => a + b, 0);
		return [...this.ninepOps].map(([op, samples]) => ({op, samples, share: samples / total})).sort((a, b) => b.samples - a.samples);
	}

	/** Forget counts (key r); roles stay learnt. */
	reset(): void {
		this.profile.reset();
		this.ninepOps.clear();
	}
}
