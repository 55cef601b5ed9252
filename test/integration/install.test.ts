/**
 * The ways the README's Install section says guardpost can be installed
 * into a project of one's own, done for real: the tarball `npm pack`
 * writes, and a git dependency (whose `prepare` script builds dist/).
 * Each is installed by npm into an empty project, which then runs
 * `guardpost --version`, `acl check`, `pki` and `serve --check`, and
 * imports the library.
 *
 * No network beyond the npm registry, and normally none at all: the
 * project gets a lockfile made from this repository's (the same versions
 * `npm ci` put in the npm cache), so `npm ci --offline` installs from the
 * cache. Only when the cache lacks something does it fall back to
 * `--prefer-offline`, which asks the registry for just that.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { tempDir } from "../helpers/pki.js";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../..", import.meta.url));

interface PackageJson {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  keywords?: string[];
  repository?: { type: string; url: string };
  private?: boolean;
}

const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as PackageJson;

async function npm(args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run("npm", [...args], { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
}

/**
 * An empty project depending on guardpost as `spec`, with a lockfile that
 * pins guardpost's dependencies to this repository's locked versions.
 */
function consumerProject(spec: string, guardpostEntry: Record<string, unknown>, manifest: PackageJson): string {
  const dir = tempDir("guardpost-consumer-");
  const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  const packages: Record<string, unknown> = {
    "": { name: "my-service", dependencies: { guardpost: spec } },
    "node_modules/guardpost": { version: manifest.version, ...guardpostEntry, license: manifest.license, dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Runtime dependencies only, as a consumer of the package gets them.
    if (path !== "" && !entry.dev && !entry.link) packages[path] = entry;
  }
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "my-service", private: true, dependencies: { guardpost: spec } }, null, 2)}\n`);
  writeFileSync(join(dir, "package-lock.json"), `${JSON.stringify({ name: "my-service", lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  return dir;
}

async function installOffline(dir: string): Promise<void> {
  try {
    await npm(["ci", "--offline"], dir);
  } catch (err) {
    if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr))) throw err;
    await npm(["ci", "--prefer-offline"], dir);
  }
}

/** What a user does first in a project that has guardpost: each step must succeed. */
async function useInstalled(dir: string): Promise<void> {
  const npx = (...args: string[]) => npm(["exec", "--offline", "--", "guardpost", ...args], dir);
  expect((await npx("--version")).stdout).toBe(`guardpost ${pkg.version}\n`);

  writeFileSync(join(dir, "acl.yaml"), "version: 1\npaths:\n  /user:\n    GET: [OU=web]\n");
  expect((await npx("acl", "check", "acl.yaml")).stdout).toBe("acl.yaml: ok\n");

  await npx("pki", "init", "pki");
  await npx("pki", "issue", "pki", "--cn", "svc", "--ou", "svc", "--san", "DNS:localhost", "--server", "--client");
  writeFileSync(
    join(dir, "guardpost.yaml"),
    "tls:\n  cert: pki/svc.crt\n  key: pki/svc.key\n  ca: pki/ca.crt\ninbound:\n  listen: 127.0.0.1:0\n  upstream: http://127.0.0.1:8080\n  acl: acl.yaml\nadmin:\n  listen: 127.0.0.1:0\n",
  );
  expect(await npx("serve", "--config", "guardpost.yaml", "--check")).toEqual({ stdout: "guardpost.yaml: ok\n", stderr: "" });

  const script = 'import { loadAcl } from "guardpost"; console.log(loadAcl("acl.yaml").decide({ method: "GET", path: "/user", peer: { OU: "web" } }).allow);';
  expect((await run(process.execPath, ["--input-type=module", "-e", script], { cwd: dir })).stdout).toBe("true\n");
}

describe("package.json is ready to publish", () => {
  test("it names its bin, engines, files, repository and keywords, and is not private", () => {
    expect(pkg.bin).toEqual({ guardpost: "dist/cli/main.js" });
    expect(pkg.engines.node).toMatch(/^>=\d+\.\d+/);
    expect(pkg.files).toEqual(expect.arrayContaining(["dist", "schema"]));
    expect(pkg.repository?.type).toBe("git");
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(pkg.keywords?.length).toBeGreaterThan(3);
    expect(pkg.private).toBeUndefined();
  });

  test("the build leaves the bin executable, so `npx guardpost` works in a fresh clone (npm ci links the bin before prepare builds it)", () => {
    expect(statSync(join(REPO, pkg.bin.guardpost)).mode & 0o111).toBe(0o111);
  });

  test("npm pack --dry-run ships the built CLI, library, schemas and README, and no sources, tests or source maps", async () => {
    const { stdout } = await npm(["pack", "--dry-run", "--json", "--ignore-scripts"], REPO);
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "dist/cli/main.js",
        "dist/index.js",
        "dist/index.d.ts",
        "schema/guardpost.config.schema.json",
        "schema/guardpost.acl.schema.json",
        "schema/guardpost.policy-test.schema.json",
        "acl/example.yaml",
      ]),
    );
    expect(files.filter((f) => /^(src|test|bench|config|node_modules)\//.test(f) || f.endsWith(".map") || f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  });
});

describe("installing guardpost into a project of one's own", () => {
  test("the tarball from npm pack installs, and its CLI and library work", { timeout: 120_000 }, async () => {
    // dist/ is built (npm test builds it first); --ignore-scripts keeps pack from building it again.
    const packDir = tempDir("guardpost-pack-");
    const { stdout } = await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", packDir], REPO);
    const tarball = join(packDir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
    const dir = consumerProject(`file:${tarball}`, { resolved: `file:${tarball}`, integrity }, pkg);
    await installOffline(dir);
    await useInstalled(dir);
  });

  test("a git dependency installs: npm clones it and its prepare script builds dist/", { timeout: 300_000 }, async () => {
    // What a user's `npm install git+https://...#<tag>` does, from this repository's committed HEAD.
    const head = (await run("git", ["rev-parse", "HEAD"], { cwd: REPO })).stdout.trim();
    const committed = JSON.parse((await run("git", ["show", "HEAD:package.json"], { cwd: REPO })).stdout) as PackageJson;
    const url = `git+file://${REPO.replace(/\/$/, "")}`;
    const dir = consumerProject(url, { resolved: `${url}#${head}` }, committed);
    await installOffline(dir);
    expect(readFileSync(join(dir, "node_modules/guardpost/dist/cli/main.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node/);
    await useInstalled(dir);
  });
});
