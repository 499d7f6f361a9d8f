// 9p shares declared on a QEMU command line (argv from /proc/PID/cmdline). Pure.
// QEMU option syntax: docs/system/invocation (qemu-options.hx `-virtfs`, `-fsdev`, `-device`), util/qemu-option.c.

import {sanitize} from '../profile/model.js';

/**
One 9p export of a QEMU process. `tag` is what the guest mounts (`mount -t 9p TAG`), `path` the host directory
(undefined when a `-device` names an `-fsdev` that is not on the command line, e.g. from `-readconfig`), `id`
the fsdev id (for `-virtfs` it defaults to the tag). Strings are sanitized for display.
*/
export interface NinePShare {
	tag: string;
	path?: string;
	id: string;
	readonly: boolean;
	/** `local`, `synth`, ... (QEMU's fsdriver). */
	fsDriver?: string;
	securityModel?: string;
	/** How it was declared: `-virtfs` or `-fsdev` + `-device virtio-9p-*`. */
	via: 'virtfs' | 'fsdev';
}

/**
The shares of one QEMU process. `virtiofs` is true when a `vhost-user-fs-*` device is present: those shares are
served by virtiofsd, a separate process, so this process's worker threads do not carry them.
*/
export interface QemuShares {
	shares: NinePShare[];
	virtiofs: boolean;
	/** mount tags of the vhost-user-fs devices. */
	virtiofsTags: string[];
}

/**
A parsed QEMU option value (`local,path=/srv,,x,mount_tag=t`): `head` is the leading element without `=` (the
implied key: fsdriver for -virtfs/-fsdev, driver for -device), `props` the rest. `,,` is a literal comma;
a bare `name` means `name=on`. `-device` also accepts JSON (`{"driver":"virtio-9p-pci",...}`).
*/
export interface QemuOptionValue {
	head?: string;
	props: Map<string, string>;
}

/** Split a QEMU option string at single commas, turning `,,` into a literal comma. */
export function splitQemuOptions(text: string): string[] {
	const parts: string[] = [];
	let current = '';
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === ',') {
			if (text[i + 1] === ',') {
				current += ',';
				i++;
				continue;
			}
			parts.push(current);
			current = '';
			continue;
		}
		current += c;
	}
	parts.push(current);
	return parts;
}

/** Parse one option value (see QemuOptionValue). */
export function parseQemuOptionValue(text: string): QemuOptionValue {
	const props = new Map<string, string>();
	if (text.trimStart().startsWith('{')) {
		try {
			const json: unknown = JSON.parse(text);
			if (json && typeof json === 'object') {
				for (const [key, value] of Object.entries(json)) {
					if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
						props.set(key, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
					}
				}
			}
			return {props};
		} catch {
			// Not JSON after all: fall through to the key=value syntax.
		}
	}
	let head: string | undefined;
	splitQemuOptions(text).forEach((part, index) => {
		const eq = part.indexOf('=');
		if (eq >= 0) props.set(part.slice(0, eq), part.slice(eq + 1));
		else if (index === 0) head = part;
		else if (part !== '') props.set(part, 'on');
	});
	return {head, props};
}

const TRUE_WORDS = new Set(['on', 'yes', 'true', 'y']);

/**
The (option name, value) pairs of a QEMU argv: `-name value` and `--name value` (QEMU accepts both), also
`--name=value` for robustness. argv[0] is skipped. Options that take no value are not known here, so a flag
directly followed by another option simply pairs with it; only the options asked for are used.
*/
export function qemuOptions(argv: readonly string[], names: ReadonlySet<string>): Array<[string, string]> {
	const out: Array<[string, string]> = [];
	for (let i = 1; i < argv.length; i++) {
		const arg = argv[i]!;
		const match = /^--?([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
		if (!match || !names.has(match[1]!)) continue;
		if (match[2] !== undefined) {
			out.push([match[1]!, match[2]]);
		} else if (i + 1 < argv.length) {
			out.push([match[1]!, argv[i + 1]!]);
			i++;
		}
	}
	return out;
}

/**
Find the 9p shares of a QEMU argv: `-virtfs DRIVER,path=P,mount_tag=T[,id=ID][,readonly=on]` and
`-fsdev DRIVER,id=ID,path=P[,readonly=on]` joined to `-device virtio-9p-{pci,ccw,device},fsdev=ID,mount_tag=T`.
Shares come in command-line order. Also reports `vhost-user-fs-*` devices (virtiofs).
*/
export function parseShares(argv: readonly string[]): QemuShares {
	const shares: NinePShare[] = [];
	const fsdevs = new Map<string, QemuOptionValue>();
	const devices: QemuOptionValue[] = [];
	const virtiofsTags: string[] = [];
	let virtiofs = false;
	const isOn = (value: string | undefined): boolean => value !== undefined && TRUE_WORDS.has(value.toLowerCase());
	for (const [name, value] of qemuOptions(argv, new Set(['virtfs', 'fsdev', 'device']))) {
		const option = parseQemuOptionValue(value);
		const p = option.props;
		if (name === 'virtfs') {
			const tag = p.get('mount_tag');
			if (tag === undefined) continue;
			shares.push({
				tag: sanitize(tag),
				path: p.has('path') ? sanitize(p.get('path')!) : undefined,
				id: sanitize(p.get('id') ?? tag),
				readonly: isOn(p.get('readonly')),
				fsDriver: fsDriverOf(option),
				securityModel: p.get('security_model'),
				via: 'virtfs',
			});
		} else if (name === 'fsdev') {
			const id = p.get('id');
			if (id !== undefined) fsdevs.set(id, option);
		} else {
			const driver = p.get('driver') ?? option.head ?? '';
			if (/^virtio-9p-/.test(driver)) devices.push(option);
			else if (/^vhost-user-fs/.test(driver)) {
				virtiofs = true;
				const tag = p.get('tag');
				if (tag !== undefined) virtiofsTags.push(sanitize(tag));
			}
		}
	}
	for (const device of devices) {
		const id = device.props.get('fsdev');
		const tag = device.props.get('mount_tag');
		if (id === undefined || tag === undefined) continue;
		const fsdev = fsdevs.get(id);
		const fp = fsdev?.props;
		shares.push({
			tag: sanitize(tag),
			path: fp?.has('path') ? sanitize(fp.get('path')!) : undefined,
			id: sanitize(id),
			readonly: isOn(fp?.get('readonly')),
			fsDriver: fsdev ? fsDriverOf(fsdev) : undefined,
			securityModel: fp?.get('security_model'),
			via: 'fsdev',
		});
	}
	return {shares, virtiofs, virtiofsTags};
}

function fsDriverOf(option: QemuOptionValue): string | undefined {
	const driver = option.props.get('fsdriver') ?? option.head;
	return driver === undefined ? undefined : sanitize(driver);
}
