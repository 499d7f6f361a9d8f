// Executable shell scripts for tests (stand-ins for gdb), each in a temporary directory of its own.

import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

/** Write `#!/bin/sh` + `body` as an executable `name`; `remove` deletes it with its directory. */
export function writeScript(name: string, body: string): {path: string; remove: () => void} {
	const dir = mkdtempSync(join(tmpdir(), 'pmptop-script-'));
	const path = join(dir, name);
	writeFileSync(path, `#!/bin/sh\n${body}\n`);
	chmodSync(path, 0o755);
	return {path, remove: () => rmSync(dir, {recursive: true, force: true})};
}
