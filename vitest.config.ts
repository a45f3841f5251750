import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources (the `@sluice/source` export condition),
// so tests never need a build. The rest are vitest's own defaults (server conditions without "module").
const conditions = ["@sluice/source", ...defaultServerConditions.filter((c) => c !== "module")]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Child processes that run the `sluice` bin run it from sources too (see apps/gateway/bin).
    env: { SLUICE_FROM_SOURCE: "1" },
  },
})
