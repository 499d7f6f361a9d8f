// A tmux session driving pmptop as a user would (fzf's test/lib/common.rb style).

import {execFileSync} from 'node:child_process';

export class Tmux {
	readonly name: string;

	constructor(command: string, {width = 120, height = 40} = {}) {
		this.name = `pmptop-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
		execFileSync('tmux', ['new-session', '-d', '-s', this.name, '-x', String(width), '-y', String(height), command]);
		// Keep the pane after the program exits so its last words can be read.
		execFileSync('tmux', ['set-option', '-t', this.name, 'remain-on-exit', 'on']);
	}

	capture(): string {
		try {
			return execFileSync('tmux', ['capture-pane', '-p', '-J', '-t', this.name], {encoding: 'utf8'});
		} catch {
			return '';
		}
	}

	send(...keys: string[]): void {
		execFileSync('tmux', ['send-keys', '-t', this.name, ...keys]);
	}

	/** True once the program in the pane has exited. */
	dead(): boolean {
		try {
			return execFileSync('tmux', ['display-message', '-p', '-t', this.name, '#{pane_dead}'], {encoding: 'utf8'}).trim() === '1';
		} catch {
			return true;
		}
	}

	/** Poll the screen until `check` holds; throws with the screen when it does not. */
	async until(check: (screen: string) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<string> {
		const end = Date.now() + timeoutMs;
		let screen = '';
		while (Date.now() < end) {
			screen = this.capture();
			if (check(screen)) return screen;
			await new Promise(r => setTimeout(r, 100));
		}
		throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
	}

	kill(): void {
		try {
			execFileSync('tmux', ['kill-session', '-t', this.name]);
		} catch {}
	}
}
