/**
 * One place for test teardown. vitest silently drops an afterAll registered
 * inside a test, so helpers that tests call (temp dirs, proxies, upstreams,
 * clients, child processes) register their cleanup here instead; the hook
 * below is registered when a test file first imports this module and runs
 * everything, newest first, when the file ends.
 */
import { afterAll } from "vitest";

const cleanups: (() => unknown)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Teardown of one resource must not stop the others.
    }
  }
});

export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}
