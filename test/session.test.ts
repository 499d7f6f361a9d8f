// GdbSession's command bookkeeping against a stand-in for gdb (a shell loop that answers only commands that say
// "ok"): answers resolve, unanswered commands time out at their own deadlines through the one watchdog timer,
// and the session goes on working after a timeout.
import {readFileSync} from 'node:fs';
import {afterEach, describe, expect, it} from 'vitest';
import {GdbTimeoutError} from '../src/errors.js';
import {GdbSession} from '../src/gdb/session.js';
import {writeScript} from './helpers/scripts.js';

let script: ReturnType<typeof writeScript> | undefined;
let session: GdbSession | undefined;
afterEach(async () => {
	if (session) {
		session.killAll();
		await session.waitExit(2000);
	}
	session = undefined;
	script?.remove();
	script = undefined;
});

function fakeGdb(): GdbSession {
	// Commands arrive as TOKEN-command: answer TOKEN^done for the ones that contain "ok", ignore the rest.
	script = writeScript('fake-gdb', 'while IFS= read -r line; do case "$line" in *ok*) echo "${line%%-*}^done,said=\\"ok\\"";; esac; done');
	session = new GdbSession({gdbPath: script.path, continuePid: 0});
	return session;
}

describe('GdbSession', () => {
	it('resolves answered commands and times out the others, each at its own deadline', async () => {
		const s = fakeGdb();
		const t0 = performance.now();
		const settled = (p: Promise<unknown>) => p.then(() => ({ok: true, at: performance.now() - t0}), (error: unknown) => ({ok: false, error, at: performance.now() - t0}));
		const [short, answered, long, answeredLate] = await Promise.all([
			settled(s.command('-silent-one', 300)),
			settled(s.command('-ok-one', 5000)),
			settled(s.command('-silent-two', 900)),
			settled(s.command('-ok-two', 200)),
		]);
		expect(answered.ok).toBe(true);
		expect(answeredLate.ok).toBe(true);
		expect(short.ok).toBe(false);
		expect(long.ok).toBe(false);
		expect((short as {error: unknown}).error).toBeInstanceOf(GdbTimeoutError);
		expect((long as {error: unknown}).error).toBeInstanceOf(GdbTimeoutError);
		expect(short.at).toBeGreaterThanOrEqual(295);
		expect(short.at).toBeLessThan(850);
		expect(long.at).toBeGreaterThanOrEqual(895);
		expect(long.at).toBeLessThan(2000);
		// Still working after the timeouts.
		await expect(s.command('-ok-again', 2000)).resolves.toMatchObject({record: {results: {said: 'ok'}}});
	});

	it('finds gdb itself, not a short-lived child gdb forked (at attach gdb forks a ptrace check, once taken for gdb)', async () => {
		// A stand-in named gdb that has one child, as gdb has for a moment while it attaches.
		script = writeScript('gdb', 'sleep 30 & read -r _line; kill $!');
		session = new GdbSession({gdbPath: script.path, continuePid: 0});
		let found: number | undefined;
		for (let i = 0; i < 100 && found === undefined; i++) {
			await new Promise(resolve => setTimeout(resolve, 20));
			const pid = session.findGdbPid();
			// Wait until the stand-in has started its child: the case that matters.
			if (pid !== undefined && readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '') found = pid;
		}
		expect(found).toBeDefined();
		expect(readFileSync(`/proc/${found}/comm`, 'utf8').trim()).toBe('gdb');
		expect(readFileSync(`/proc/${found}/cmdline`, 'utf8')).toContain(script.path);
	});
});
