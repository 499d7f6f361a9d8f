// GDB/MI output parser: one line of gdb's MI output -> a typed record.
// Grammar: https://sourceware.org/gdb/current/onlinedocs/gdb.html/GDB_002fMI-Output-Syntax.html
// Pure: no I/O, no state between lines.

import {MiParseError} from '../errors.js';

/** An MI value: a c-string, a tuple `{a=..}`, or a list `[..]` of values or of `name=value` results. */
export type MiValue = string | MiTuple | MiValue[];
export type MiTuple = {[name: string]: MiValue};

/** `^done`, `^running`, `^connected`, `^error`, `^exit` with their results, and the command's token. */
export interface MiResultRecord {
	kind: 'result';
	token?: number;
	resultClass: string;
	results: MiTuple;
}

/** `*stopped` (exec), `+download` (status), `=thread-created` (notify). */
export interface MiAsyncRecord {
	kind: 'exec' | 'status' | 'notify';
	token?: number;
	asyncClass: string;
	results: MiTuple;
}

/** `~` console, `@` target, `&` log output. */
export interface MiStreamRecord {
	kind: 'console' | 'target' | 'log';
	text: string;
}

export interface MiPrompt {
	kind: 'prompt';
}

export type MiRecord = MiResultRecord | MiAsyncRecord | MiStreamRecord | MiPrompt;

const ASYNC_KINDS: Record<string, MiAsyncRecord['kind']> = {'*': 'exec', '+': 'status', '=': 'notify'};
const STREAM_KINDS: Record<string, MiStreamRecord['kind']> = {'~': 'console', '@': 'target', '&': 'log'};

/**
Parse one line of MI output (without its line terminator). Throws `MiParseError` carrying the raw line
when the line is not MI (the caller decides whether to treat it as stray output).
*/
export function parseMiLine(line: string): MiRecord {
	if (line.endsWith('\r')) line = line.slice(0, -1);
	if (line === '(gdb)' || line === '(gdb) ') return {kind: 'prompt'};
	const p = new Cursor(line);
	const first = line[0];
	if (first !== undefined && first in STREAM_KINDS) {
		p.pos = 1;
		const text = p.cstring();
		p.end();
		return {kind: STREAM_KINDS[first]!, text};
	}
	let token: number | undefined;
	const digits = /^\d+/.exec(line);
	if (digits) {
		token = Number(digits[0]);
		p.pos = digits[0].length;
	}
	const marker = line[p.pos];
	p.pos++;
	const cls = p.word();
	const results = p.results();
	p.end();
	if (marker === '^') return {kind: 'result', token, resultClass: cls, results};
	if (marker !== undefined && marker in ASYNC_KINDS) return {kind: ASYNC_KINDS[marker]!, token, asyncClass: cls, results};
	throw new MiParseError('not an MI record', line);
}

/** Decode the body of an MI c-string starting at `start` (just after the opening quote). Returns text and end. */
export function decodeCString(src: string, start: number): {text: string; end: number} {
	// Most strings (function and file names, numbers) have no escape and no non-ASCII text: take them as they are.
	let i = start;
	for (;;) {
		const c = src.charCodeAt(i);
		if (c === 0x22) return {text: src.slice(start, i), end: i + 1};
		if (c === 0x5c || c >= 0x80 || Number.isNaN(c)) break;
		i++;
	}
	const bytes: number[] = [];
	for (let k = start; k < i; k++) bytes.push(src.charCodeAt(k));
	for (;;) {
		if (i >= src.length) throw new MiParseError('unterminated string', src);
		const c = src.charCodeAt(i);
		if (c === 0x22) return {text: Buffer.from(bytes).toString('utf8'), end: i + 1};
		if (c === 0x5c) {
			const e = src[i + 1];
			i += 2;
			switch (e) {
				case 'n': bytes.push(10); break;
				case 't': bytes.push(9); break;
				case 'r': bytes.push(13); break;
				case 'a': bytes.push(7); break;
				case 'b': bytes.push(8); break;
				case 'f': bytes.push(12); break;
				case 'v': bytes.push(11); break;
				case 'e': bytes.push(27); break;
				case undefined: throw new MiParseError('unterminated escape', src);
				default: {
					if (e >= '0' && e <= '7') {
						let v = Number(e);
						for (let k = 0; k < 2 && src[i]! >= '0' && src[i]! <= '7'; k++, i++) v = v * 8 + Number(src[i]);
						bytes.push(v & 0xff);
					} else {
						pushUtf8(bytes, e);
					}
				}
			}
			continue;
		}
		if (c < 0x80) {
			bytes.push(c);
			i++;
		} else {
			// Non-ASCII text arrives as already-decoded characters: re-encode so octal bytes and raw text mix.
			const cp = src.codePointAt(i)!;
			const ch = String.fromCodePoint(cp);
			pushUtf8(bytes, ch);
			i += ch.length;
		}
	}
}

function pushUtf8(bytes: number[], ch: string): void {
	for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
}

class Cursor {
	pos = 0;
	constructor(readonly src: string) {}

	fail(what: string): never {
		throw new MiParseError(`${what} at column ${this.pos}`, this.src);
	}

	end(): void {
		if (this.pos !== this.src.length) this.fail('trailing characters');
	}

	word(): string {
		const start = this.pos;
		let i = start;
		for (;;) {
			const c = this.src.charCodeAt(i);
			// [A-Za-z0-9_-]
			if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d) i++;
			else break;
		}
		if (i === start) this.fail('expected a name');
		this.pos = i;
		return this.src.slice(start, i);
	}

	cstring(): string {
		if (this.src[this.pos] !== '"') this.fail('expected a string');
		const {text, end} = decodeCString(this.src, this.pos + 1);
		this.pos = end;
		return text;
	}

	/** `("," result)*` at the end of a record. */
	results(): MiTuple {
		const out: MiTuple = {};
		while (this.src[this.pos] === ',') {
			this.pos++;
			const [name, value] = this.result();
			addResult(out, name, value);
		}
		return out;
	}

	result(): [string, MiValue] {
		const name = this.word();
		if (this.src[this.pos] !== '=') this.fail('expected =');
		this.pos++;
		return [name, this.value()];
	}

	value(): MiValue {
		const c = this.src[this.pos];
		if (c === '"') return this.cstring();
		if (c === '{') return this.tuple();
		if (c === '[') return this.list();
		return this.fail('expected a value');
	}

	/**
	A tuple; or, when it holds bare values, the list of them. gdb prints a breakpoint's commands that way, outside the
	grammar: `=breakpoint-modified,bkpt={...,script={"silent"}}` after every hit of pmptop's stop catchpoint.
	*/
	tuple(): MiTuple | MiValue[] {
		this.pos++;
		const out: MiTuple = {};
		if (this.src[this.pos] === '}') {
			this.pos++;
			return out;
		}
		const c = this.src[this.pos];
		if (c === '"' || c === '{' || c === '[') return this.values('}');
		for (;;) {
			const [name, value] = this.result();
			addResult(out, name, value);
			const c = this.src[this.pos++];
			if (c === '}') return out;
			if (c !== ',') this.fail('expected , or }');
		}
	}

	list(): MiValue[] {
		this.pos++;
		if (this.src[this.pos] === ']') {
			this.pos++;
			return [];
		}
		return this.values(']');
	}

	/** The values or results of a list, up to and past `close`. */
	values(close: ']' | '}'): MiValue[] {
		const out: MiValue[] = [];
		for (;;) {
			const c = this.src[this.pos];
			if (c === '"' || c === '{' || c === '[') {
				out.push(this.value());
			} else {
				// A list of results (`[frame={..},frame={..}]`): keep the values, the names repeat.
				const [name, value] = this.result();
				out.push(name === 'frame' || typeof value !== 'object' ? value : {[name]: value});
			}
			const d = this.src[this.pos++];
			if (d === close) return out;
			if (d !== ',') this.fail(`expected , or ${close}`);
		}
	}
}

// A tuple may repeat a name (gdb does this in a few records): keep every value as a list then.
function addResult(out: MiTuple, name: string, value: MiValue): void {
	if (!Object.hasOwn(out, name)) {
		out[name] = value;
		return;
	}
	const prev = out[name]!;
	out[name] = [prev, value];
}

/** Read a string field of an MI tuple, or undefined. */
export function miString(t: MiValue | undefined, name: string): string | undefined {
	if (!t || typeof t !== 'object' || Array.isArray(t)) return undefined;
	const v = t[name];
	return typeof v === 'string' ? v : undefined;
}

/** Read a list field of an MI tuple, or an empty list. */
export function miList(t: MiValue | undefined, name: string): MiValue[] {
	if (!t || typeof t !== 'object' || Array.isArray(t)) return [];
	const v = t[name];
	return Array.isArray(v) ? v : [];
}
