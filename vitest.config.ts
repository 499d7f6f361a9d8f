import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		// Live tests attach gdb to real processes on a 2-core machine: one file at a time keeps timings honest.
		fileParallelism: false,
		testTimeout: 30_000,
		hookTimeout: 30_000,
		env: {FORCE_COLOR: '0'},
	},
});
