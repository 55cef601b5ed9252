import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every ACL decision table built in-process is verified against its rules.
    setupFiles: ["test/setup/verify-acl-tables.ts"],
    // Integration tests start real TLS servers; give handshakes and reload watchers room on a loaded CI box.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
  },
});
