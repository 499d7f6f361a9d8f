// Paths of the real captured fixtures shared by the project (../shared/fixtures/qemu).

import {readFileSync} from 'node:fs';

/** URL of a file in ../shared/fixtures/qemu/. */
export function qemuFixture(name: string): URL {
	return new URL(`../../../shared/fixtures/qemu/${name}`, import.meta.url);
}

/** Text of a file in ../shared/fixtures/qemu/. */
export function readQemuFixture(name: string): string {
	return readFileSync(qemuFixture(name), 'utf8');
}

/** The received lines (`<epoch> << line`) of an MI transcript, in order. */
export function transcriptOutput(name: string): string[] {
	return readQemuFixture(name)
		.split('\n')
		.map(line => /^\S+ << (.*)$/.exec(line)?.[1])
		.filter((line): line is string => line !== undefined);
}
