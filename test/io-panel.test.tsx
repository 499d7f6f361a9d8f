import {readFileSync} from 'node:fs';
import {Box} from 'ink';
import {render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {cleanup} from 'ink-testing-library';
import {IoPanel} from '../components/IoPanel.js';
import {formatBytesPerSec, formatCount, formatInteger, formatBinaryBytes, formatPercent, truncate, truncateStart} from '../components/format.js';
import {sparklineText} from '../components/Sparkline.js';
import type {IoCounters} from '../src/procio/parse.js';
import {procFail, procOk} from '../src/procio/parse.js';
import type {IoReading, IoTrackerState} from '../src/procio/rate.js';
import {createIoTracker, ingestIoReading} from '../src/procio/rate.js';
import {parseShares} from '../src/procio/shares.js';
import type {IoView} from '../src/procio/view.js';
import {toIoView} from '../src/procio/view.js';

const FIXTURES = new URL('../../shared/fixtures/qemu/', import.meta.url);
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

afterEach(() => cleanup());

// ink-testing-library's stdout is 100 columns; the panel sits in a Box of the width under test.
function frame(view: IoView, width: number): string {
	const {lastFrame} = render(<Box width={width}><IoPanel view={view} width={width} /></Box>);
	return (lastFrame() ?? '').replace(ANSI, '');
}

function lines(text: string): string[] {
	return text.split('\n').map(l => l.trimEnd());
}

type Raw = Record<string, number>;
function counters(raw: Raw): IoCounters {
	return {rchar: raw.rchar!, wchar: raw.wchar!, syscr: raw.syscr!, syscw: raw.syscw!, readBytes: raw.read_bytes!, writeBytes: raw.write_bytes!, cancelledWriteBytes: raw.cancelled_write_bytes!};
}

// The first `count` readings of a recorded run.
function replayed(name: string, count: number): IoTrackerState {
	const rows = readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').filter(Boolean).slice(0, count);
	return rows.map(l => JSON.parse(l) as {t: number; proc: Raw; tasks: Record<string, Raw & {comm: string}>}).map((row): IoReading => ({
		atMs: row.t * 1000,
		process: procOk(counters(row.proc)),
		threads: Object.entries(row.tasks).map(([tid, task]) => ({tid: Number(tid), comm: task.comm, io: procOk(counters(task))})),
	})).reduce(ingestIoReading, createIoTracker());
}

const SHARES = parseShares(['qemu', '-virtfs', 'local,path=/srv/vm/share,mount_tag=hostshare,security_model=none,id=fs0', '-virtfs', 'local,path=/nix/store,mount_tag=nix-store,readonly=on']);

describe('IoPanel', () => {
	const small = replayed('proc-io-samples-msize8192-named.jsonl', 80);
	const view = toIoView(small, SHARES, small.lastAtMs!);

	for (const width of [80, 160]) {
		it(`shows figures, sparkline, shares and the hint at ${width} columns`, () => {
			const text = frame(view, width);
			const rows = lines(text);
			for (const row of rows) expect(row.length).toBeLessThanOrEqual(width);
			const proc = rows.find(r => r.startsWith('process'))!;
			const workers = rows.find(r => r.startsWith('9p workers (2)'))!;
			expect(proc).toMatch(/\d MB\/s/);
			expect(workers).toMatch(/\d MB\/s/);
			expect(workers).toMatch(/\/s .*\d,\d{3}/);
			expect(workers).toMatch(/[▁▂▃▄▅▆▇█]/);
			expect(text).toContain('read, 60 s');
			expect(text).toContain('hostshare -> /srv/vm/share');
			expect(text).toContain('nix-store -> /nix/store (ro)');
			expect(text).toMatch(/small msize/);
			expect(text.replace(/\s+/g, ' ')).toContain('msize=512000');
			expect(text).not.toMatch(/waiting for data|not permitted/);
		});
	}

	it('uses the width for the sparkline', () => {
		const at = (w: number) => lines(frame(view, w)).find(r => r.startsWith('process'))!.length;
		expect(at(160) - at(80)).toBe(80);
	});

	it("says 'not permitted' instead of zeros", () => {
		const denied = (atMs: number): IoReading => ({atMs, process: procFail('not-permitted', 'EACCES'), threads: []});
		const state = [denied(0), denied(1000)].reduce(ingestIoReading, createIoTracker());
		for (const width of [80, 160]) {
			const text = frame(toIoView(state, SHARES, 1000), width);
			expect(text).toContain('not permitted');
			expect(lines(text).find(r => r.startsWith('process'))).toMatch(/not permitted/);
			expect(lines(text).find(r => r.startsWith('9p workers'))).toBe('9p workers      not permitted');
			expect(text).not.toMatch(/B\/s/);
			expect(text).not.toMatch(/ 0 /);
		}
	});

	it("says 'waiting for data' before the second reading, and 'stale' later", () => {
		const one = replayed('proc-io-samples-msize8192-named.jsonl', 1);
		const first = frame(toIoView(one, SHARES, one.lastAtMs!), 80);
		expect(lines(first).find(r => r.startsWith('process'))).toMatch(/waiting for data/);
		expect(first).not.toMatch(/B\/s/);
		const stale = frame(toIoView(small, SHARES, small.lastAtMs! + 60_000), 80);
		expect(lines(stale)[0]).toMatch(/stale$/);
		expect(stale).toMatch(/MB\/s/);
		expect(stale).not.toMatch(/small msize/);
	});

	it('says when there are no 9p shares, or virtiofs serves them', () => {
		const none = frame(toIoView(small, parseShares(['qemu']), small.lastAtMs!), 80);
		expect(none).toContain('no 9p shares on this process');
		// Thread-pool workers still show (they serve other I/O too); no msize hint without 9p.
		expect(none).toMatch(/9p workers \(2\)/);
		expect(none).not.toMatch(/small msize/);
		const vfs = frame(toIoView(small, parseShares(['qemu', '-device', 'vhost-user-fs-pci,chardev=c,tag=nix-store']), small.lastAtMs!), 160);
		expect(vfs.replace(/\s+/g, ' ')).toContain('no 9p shares on this process: it uses virtiofs, served by virtiofsd');
		// At 80 columns the note wraps under its label instead of being cut.
		const vfs80 = lines(frame(toIoView(small, parseShares(['qemu', '-device', 'vhost-user-fs-pci,chardev=c,tag=nix-store']), small.lastAtMs!), 80));
		expect(vfs80.find(r => r.startsWith('shares'))).toMatch(/^shares {10}no 9p shares/);
		expect(vfs80.join('\n')).toMatch(/^ {16}virtiofsd/m);
	});

	it('says workers are not identified when threads are unnamed', () => {
		const state = replayed('proc-io-samples-msize524288-defaultnames.jsonl', 60);
		const text = frame(toIoView(state, SHARES, state.lastAtMs!), 80);
		expect(lines(text).find(r => r.startsWith('9p workers'))).toMatch(/not identified/);
		expect(lines(text).find(r => r.startsWith('process'))).toMatch(/MB\/s/);
	});
});

describe('format helpers', () => {
	it('formats rates, counts, sizes and text', () => {
		expect(formatBytesPerSec(0)).toBe('0 B/s');
		expect(formatBytesPerSec(999)).toBe('999 B/s');
		expect(formatBytesPerSec(45_119_883)).toBe('45.1 MB/s');
		expect(formatBytesPerSec(999_999)).toBe('1.00 MB/s');
		expect(formatBinaryBytes(4096)).toBe('4.00 KiB');
		expect(formatCount(987)).toBe('987');
		expect(formatCount(0.4)).toBe('0.4');
		expect(formatCount(1234)).toBe('1.2k');
		expect(formatCount(999_700)).toBe('1.0M');
		expect(formatCount(12_345)).toBe('12k');
		expect(formatInteger(11_466.4)).toBe('11,466');
		expect(formatPercent(0.1234)).toBe('12.3%');
		expect(truncate('abcdef', 4)).toBe('abc…');
		expect(truncateStart('/srv/vm/share', 6)).toBe('…share');
	});

	it('draws sparklines newest at the right, averaging to fit', () => {
		expect(sparklineText([0, 1, 2, 4, 8], 5)).toBe(' ▁▂▄█');
		expect(sparklineText([8], 4)).toBe('   █');
		expect(sparklineText([1, 1, 8, 8], 2)).toBe('▁█');
		expect(sparklineText([], 3)).toBe('   ');
	});
});
