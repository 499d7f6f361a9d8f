// Waiting helpers for ink-testing-library: React 19 schedules renders, so writes need a turn of the event loop.

/** Let React and Ink flush pending work. */
export async function settle(ms = 30): Promise<void> {
	await new Promise(resolve => setImmediate(resolve));
	await new Promise(resolve => setTimeout(resolve, ms));
}

/** Write input and wait until the frame changes (or `timeoutMs` passes). */
export async function press(stdin: {write: (s: string) => void}, lastFrame: () => string | undefined, input: string, timeoutMs = 400): Promise<string> {
	const before = lastFrame();
	stdin.write(input);
	const end = Date.now() + timeoutMs;
	while (Date.now() < end) {
		await settle(10);
		if (lastFrame() !== before) break;
	}
	return lastFrame() ?? '';
}

export const KEYS = {
	up: '\u001b[A',
	down: '\u001b[B',
	right: '\u001b[C',
	left: '\u001b[D',
	pageUp: '\u001b[5~',
	pageDown: '\u001b[6~',
	home: '\u001b[H',
	end: '\u001b[F',
	tab: '\t',
	enter: '\r',
	escape: '\u001b',
	backspace: '\u007f',
	ctrlC: '\u0003',
} as const;
