// The real-VM end-to-end test only (`npm run test:vm`): boots QEMU 9p VMs under TCG, minutes per run.
// Kept out of `npm test`, whose include is test/**/*.test.ts(x); this one matches test/vm/*.e2e.ts.
import {fileURLToPath} from 'node:url';
import {defineConfig} from 'vitest/config';

export default defineConfig({
	root: fileURLToPath(new URL('../..', import.meta.url)),
	test: {
		include: ['test/vm/**/*.e2e.ts'],
		fileParallelism: false,
		// First run: apt-get install + kernel download (~1 min); each VM case 1.5-3 min under TCG on 2 cores.
		testTimeout: 420_000,
		hookTimeout: 600_000,
		env: {FORCE_COLOR: '0'},
	},
});
