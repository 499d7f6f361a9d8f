import {describe, expect, it} from 'vitest';
import {MiParseError} from '../src/errors.js';
import {decodePythonSample, lwpOf, miFrame} from '../src/gdb/mi-backend.js';
import {miList, miString, parseMiLine, type MiResultRecord} from '../src/gdb/mi-parse.js';
import {transcriptOutput} from './helpers/fixtures.js';

describe('parseMiLine on the real transcripts', () => {
	for (const name of ['named-gdb-mi-transcript.txt', 'default-gdb-mi-transcript.txt']) {
		it(`parses every line of ${name}`, () => {
			const lines = transcriptOutput(name);
			expect(lines.length).toBeGreaterThan(100);
			const kinds = new Map<string, number>();
			for (const line of lines) {
				const r = parseMiLine(line);
				kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
			}
			// Notifications, exec records, console streams and results are all interleaved in a real session.
			for (const kind of ['result', 'notify', 'exec', 'console']) expect(kinds.get(kind) ?? 0).toBeGreaterThan(0);
		});
	}

	it('decodes -thread-info: LWPs, names, states', () => {
		const line = transcriptOutput('named-gdb-mi-transcript.txt').find(l => /^\d+\^done,threads=/.test(l))!;
		const r = parseMiLine(line) as MiResultRecord;
		expect(r.kind).toBe('result');
		expect(r.token).toBe(103);
		const threads = miList(r.results, 'threads');
		expect(threads.map(t => lwpOf(miString(t, 'target-id')!))).toEqual([17455, 17460, 17461, 17462, 17666, 17673, 17736]);
		expect(threads.map(t => miString(t, 'name'))).toEqual(['qemu-system-x86', 'qemu-system-x86', 'CPU 0/TCG', 'CPU 1/TCG', 'worker', 'worker', 'worker']);
		expect(threads.every(t => miString(t, 'state') === 'stopped')).toBe(true);
	});

	it('decodes -stack-list-frames into frames, leaf first, without argument values', () => {
		const line = transcriptOutput('named-gdb-mi-transcript.txt').find(l => l.startsWith('104^done,stack='))!;
		const r = parseMiLine(line) as MiResultRecord;
		const frames = miList(r.results, 'stack').map(f => miFrame(f, '/usr/bin/qemu-system-x86_64'));
		expect(frames.map(f => f.func)).toEqual(['__ppoll', 'qemu_poll_ns', 'main_loop_wait', 'qemu_main_loop', 'qemu_default_main', '__libc_start_call_main', '__libc_start_main_impl', '_start']);
		expect(frames[0]).toMatchObject({file: '../sysdeps/unix/sysv/linux/ppoll.c', line: 42});
		expect(JSON.stringify(frames)).not.toContain('fds');
	});

	it('keys ?? frames in the executable by the executable, and from= frames by their library', () => {
		const line = transcriptOutput('named-gdb-mi-transcript.txt').find(l => l.startsWith('106^done,stack='))!;
		const frames = miList((parseMiLine(line) as MiResultRecord).results, 'stack').map(f => miFrame(f, '/usr/bin/qemu-system-x86_64'));
		expect(frames[0]).toMatchObject({func: 'g_hash_table_lookup', lib: '/lib/x86_64-linux-gnu/libglib-2.0.so.0'});
		expect(frames[5]).toMatchObject({func: '??', lib: '/usr/bin/../lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so'});
		expect(frames[6]).toMatchObject({func: '??', lib: '/usr/bin/qemu-system-x86_64'});
	});

	it('decodes *stopped with a nested frame tuple and args list', () => {
		const line = transcriptOutput('named-gdb-mi-transcript.txt').find(l => l.startsWith('*stopped,reason="signal-received"'))!;
		const r = parseMiLine(line);
		expect(r).toMatchObject({kind: 'exec', asyncClass: 'stopped', results: {reason: 'signal-received', 'signal-name': 'SIGINT', 'thread-id': '1'}});
		expect(miString((r as MiResultRecord).results.frame, 'func')).toBe('__ppoll');
	});

	it('decodes console escapes: quotes, newlines', () => {
		const line = transcriptOutput('named-gdb-mi-transcript.txt').find(l => l.includes('show copying'))!;
		const r = parseMiLine(line);
		expect(r).toEqual({kind: 'console', text: '\nType "show copying" and "show warranty" for details.\n'});
	});
});

describe('parseMiLine, synthetic', () => {
	it('decodes octal escapes as UTF-8 bytes and keeps control bytes for the caller to strip', () => {
		expect(parseMiLine('~"\\033[2J\\303\\251t\\303\\251\\t\\\\"')).toEqual({kind: 'console', text: '\u001b[2Jété\t\\'});
	});

	it('decodes escapes and raw non-ASCII text that follow plain text, and plain text alone, the same way', () => {
		expect(parseMiLine('~"plain_name"')).toEqual({kind: 'console', text: 'plain_name'});
		expect(parseMiLine('~"a\\"b\\nc"')).toEqual({kind: 'console', text: 'a"b\nc'});
		expect(parseMiLine('~"caf\\303\\251 é"')).toEqual({kind: 'console', text: 'café é'});
		expect(parseMiLine('~"abc\\033x"')).toEqual({kind: 'console', text: 'abc\u001bx'});
	});

	it('keeps fields named like Object.prototype members as plain fields', () => {
		expect(parseMiLine('^done,constructor="1",toString="2",toString="3"')).toMatchObject({results: {constructor: '1', toString: ['2', '3']}});
	});

	it('parses tokens, empty tuples and lists, result lists', () => {
		expect(parseMiLine('12^done')).toEqual({kind: 'result', token: 12, resultClass: 'done', results: {}});
		expect(parseMiLine('^done,a={},b=[],c=["x","y"],d=[{e="1"}]')).toEqual({kind: 'result', token: undefined, resultClass: 'done', results: {a: {}, b: [], c: ['x', 'y'], d: [{e: '1'}]}});
		expect(parseMiLine('5^error,msg="ptrace: Operation not permitted."')).toMatchObject({resultClass: 'error', results: {msg: 'ptrace: Operation not permitted.'}});
		expect(parseMiLine('=thread-created,id="2",group-id="i1"')).toEqual({kind: 'notify', token: undefined, asyncClass: 'thread-created', results: {id: '2', 'group-id': 'i1'}});
		expect(parseMiLine('(gdb) ')).toEqual({kind: 'prompt'});
	});

	it('takes a tuple of bare values as their list: a breakpoint\'s commands, as gdb 13.1 prints them after every hit of the stop catchpoint', () => {
		const line = '=breakpoint-modified,bkpt={number="1",type="catchpoint",disp="keep",enabled="y",what="SIGSTOP",catch-type="signal",thread-groups=["i1"],times="1",script={"silent"}}';
		expect(parseMiLine(line)).toMatchObject({kind: 'notify', asyncClass: 'breakpoint-modified', results: {bkpt: {what: 'SIGSTOP', times: '1', script: ['silent']}}});
		expect(parseMiLine('^done,a={"x",{b="1"},["y"]}')).toMatchObject({results: {a: ['x', {b: '1'}, ['y']]}});
		expect(() => parseMiLine('^done,a={"x"]')).toThrow(MiParseError);
	});

	it('rejects truncated and non-MI lines with MiParseError carrying the line', () => {
		for (const bad of ['^done,stack=[frame={level="0"', '~"unterminated', 'warning: Target and debugger are in different PID namespaces', '^done,a="x"junk']) {
			try {
				parseMiLine(bad);
				expect.unreachable(`accepted ${bad}`);
			} catch (error) {
				expect(error).toBeInstanceOf(MiParseError);
				expect((error as MiParseError).line).toBe(bad);
			}
		}
	});
});

describe('decodePythonSample', () => {
	it('reads threads and frames, marks unnamed executable frames, keeps errors as data', () => {
		const text = JSON.stringify([[10, 'CPU 0/KVM', [['guest_compute', 'qemu-demo.c', 12, null], ['??', null, 0, null], ['start_thread', null, 0, '/lib/libc.so.6']]], [11, 'x', null, 'Cannot access memory']]);
		const r = decodePythonSample(text + '\n', '/bin/demo');
		expect(r.threads).toEqual([{tid: 10, name: 'CPU 0/KVM', frames: [{func: 'guest_compute', file: 'qemu-demo.c', line: 12, lib: undefined}, {func: '??', file: undefined, line: undefined, lib: '/bin/demo'}, {func: 'start_thread', file: undefined, line: undefined, lib: '/lib/libc.so.6'}]}]);
		expect(r.errors).toEqual([{tid: 11, message: 'Cannot access memory'}]);
	});
});
