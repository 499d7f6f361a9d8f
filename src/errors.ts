// Error classes. Each carries what a user needs to act on it; only src/cli.tsx decides to exit.

/** Base class of every error pmptop raises on purpose: its message is one line meant for the user. */
export class ProfilerError extends Error {
	constructor(message: string, options?: {cause?: unknown}) {
		super(message, options);
		this.name = 'ProfilerError';
	}
}

/** gdb answered a command with `^error`; `command` is what was sent, `msg` gdb's text. */
export class GdbError extends ProfilerError {
	constructor(readonly command: string, readonly msg: string) {
		super(`gdb: ${msg} (${command})`);
		this.name = 'GdbError';
	}
}

/** gdb exited (crashed, was killed, or quit) while pmptop needed it. */
export class GdbExitedError extends ProfilerError {
	constructor(message: string, readonly code?: number | null, readonly signal?: string | null) {
		super(message);
		this.name = 'GdbExitedError';
	}
}

/** A command did not complete in time. */
export class GdbTimeoutError extends ProfilerError {
	constructor(readonly command: string, readonly timeoutMs: number) {
		super(`gdb did not answer ${command} within ${timeoutMs} ms`);
		this.name = 'GdbTimeoutError';
	}
}

/** A line of gdb output that is not MI; `line` is the raw text. */
export class MiParseError extends ProfilerError {
	constructor(message: string, readonly line: string) {
		super(`MI parse error: ${message}`);
		this.name = 'MiParseError';
	}
}

/** Attaching failed; the message says why and what to do. */
export class AttachError extends ProfilerError {
	constructor(message: string) {
		super(message);
		this.name = 'AttachError';
	}
}

/** A snapshot file could not be written. */
export class SnapshotWriteError extends ProfilerError {
	constructor(message: string, options?: {cause?: unknown}) {
		super(message, options);
		this.name = 'SnapshotWriteError';
	}
}

/** The target process has ended (sampling cannot go on; this is not a failure of pmptop). */
export class TargetExitedError extends ProfilerError {
	constructor(message: string) {
		super(message);
		this.name = 'TargetExitedError';
	}
}
