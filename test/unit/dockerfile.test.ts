/**
 * The Dockerfile cannot be built here (no container engine), so its text is
 * checked instead: the Docker language server's validator finds no problem,
 * and the essentials hold (multi-stage on a pinned slim LTS base, only dist
 * and production dependencies in the final stage, a non-root user, the
 * HEALTHCHECK asking /readyz, `serve` by default). The HEALTHCHECK command
 * itself is run against a real guardpost, and every package the built code
 * imports is a production dependency, so `npm ci --omit=dev` is enough.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { Script } from "node:vm";
import { validate } from "dockerfile-utils";
import { stringify } from "yaml";
import { describe, expect, test } from "vitest";
import { DEFAULTS } from "../../src/config/schema.js";
import { createMaterial } from "../helpers/container.js";
import { tempDir, writeFiles } from "../helpers/pki.js";
import { spawnCli } from "../helpers/spawn.js";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text.replace(/\\\n/g, " ").split("\n");
  return logical
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(" ") };
    });
}

const text = readFileSync("Dockerfile", "utf8");
const instructions = parseDockerfile(text);
const args = new Map(instructions.filter((i) => i.keyword === "ARG").map((i) => i.args.split("=") as [string, string]));
const expand = (value: string) => value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? "");

/** The build stages in order, each with its FROM image and instructions. */
const stages: { image: string; name: string | undefined; body: Instruction[] }[] = [];
for (const instruction of instructions) {
  if (instruction.keyword === "FROM") {
    const [image, as, name] = instruction.args.split(/\s+/);
    stages.push({ image: expand(image!), name: as?.toUpperCase() === "AS" ? name : undefined, body: [] });
  } else stages.at(-1)?.body.push(instruction);
}
const final = stages.at(-1)!;
const last = (keyword: string) => final.body.filter((i) => i.keyword === keyword).at(-1);
const json = (instruction: Instruction | undefined) => JSON.parse(instruction!.args) as string[];

describe("Dockerfile", () => {
  test("the Docker language server's validator reports nothing", () => {
    expect(validate(text, {})).toEqual([]);
  });

  test("is multi-stage on a slim Node image pinned to the current LTS major", () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const stage of stages) expect(stage.image).toMatch(/^node:24-[a-z]+-slim$/);
  });

  test("builds in a build stage and copies into the final stage only dist, production dependencies, package.json and the example ACLs", () => {
    const copies = final.body.filter((i) => i.keyword === "COPY").map((i) => i.args);
    const deps = stages.find((s) => s.name === copies.find((c) => c.includes("node_modules"))!.match(/--from=(\S+)/)![1]);
    expect(deps!.body.filter((i) => i.keyword === "RUN").map((i) => i.args)).toEqual([expect.stringMatching(/^npm ci --omit=dev --ignore-scripts\b/)]);
    const build = stages.find((s) => s.name === copies.find((c) => c.includes("dist"))!.match(/--from=(\S+)/)![1]);
    expect(build!.body.some((i) => i.keyword === "RUN" && i.args === "npm run build")).toBe(true);
    expect(copies.map((c) => c.split(/\s+/).filter((part) => !part.startsWith("--")).slice(0, -1).join(" "))).toEqual(["/app/node_modules", "/src/dist", "package.json", "acl/example.yaml acl/example.v2.yaml"]);
    expect(final.body.filter((i) => i.keyword === "RUN")).toEqual([]);
  });

  test("runs as the unprivileged node user", () => {
    expect(last("USER")!.args).toBe("node");
  });

  test("exposes the default inbound and admin ports", () => {
    const ports = last("EXPOSE")!.args.split(/\s+/).map(Number);
    expect(ports).toEqual([Number(DEFAULTS.inbound.listen.split(":")[1]), Number(DEFAULTS.admin.listen.split(":")[1])]);
  });

  test("runs guardpost serve by default, with the config at /etc/guardpost/guardpost.yaml", () => {
    expect(json(last("ENTRYPOINT"))).toEqual(["node", "/app/dist/cli/main.js"]);
    expect(json(last("CMD"))).toEqual(["serve"]);
    expect(readFileSync("src/cli/serve.ts", "utf8")).toContain('DEFAULT_CONFIG = "/etc/guardpost/guardpost.yaml"');
  });

  test("the HEALTHCHECK asks /readyz on the default admin address with node itself", () => {
    const healthcheck = last("HEALTHCHECK")!.args;
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD ") + 4)) as string[];
    expect(command.slice(0, 2)).toEqual(["node", "-e"]);
    expect(() => new Script(command[2]!)).not.toThrow();
    const env = last("ENV")!.args;
    expect(env).toContain(`GUARDPOST_HEALTHCHECK_URL=http://${DEFAULTS.admin.listen}/readyz`);
  });

  test(".dockerignore lets in exactly what the Dockerfile copies from the build context", () => {
    const lines = readFileSync(".dockerignore", "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(lines[0]).toBe("*");
    const allowed = lines.slice(1).map((l) => l.replace(/^!/, "").replace(/\/$/, ""));
    const fromContext = stages.flatMap((s) => s.body).filter((i) => i.keyword === "COPY" && !i.args.includes("--from="));
    const sources = fromContext.flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(new Set(sources)).toEqual(new Set(allowed));
  });
});

describe("the image's contents", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { name: string; dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);

  test("every package the built code imports is a production dependency", () => {
    const imported = new Set<string>();
    for (const name of readdirSync("dist", { recursive: true, encoding: "utf8" })) {
      if (!name.endsWith(".js")) continue;
      const code = readFileSync(join("dist", name), "utf8");
      for (const match of code.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|\bimport\("([^"]+)"\)|^import\s+"([^"]+)"/gm)) imported.add((match[1] ?? match[2] ?? match[3])!);
    }
    const packages = [...imported]
      .filter((s) => !s.startsWith(".") && !s.startsWith("node:") && !builtins.has(s))
      .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!));
    expect(packages.length).toBeGreaterThan(0);
    expect([...new Set(packages)].filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  test("the HEALTHCHECK command exits 0 while guardpost is ready and 1 once it has stopped", async () => {
    const command = JSON.parse(last("HEALTHCHECK")!.args.replace(/^.*?CMD /, "")) as string[];
    const material = await createMaterial();
    const dir = tempDir();
    writeFiles(dir, { "service.crt": material.cert, "service.key": material.key, "ca.crt": material.ca, "acl.yaml": "version: 1\npaths: {}\n" });
    const [config] = Object.values(
      writeFiles(dir, {
        "guardpost.yaml": stringify({ tls: { cert: "service.crt", key: "service.key", ca: "ca.crt" }, inbound: { listen: "127.0.0.1:0", acl: "acl.yaml" }, admin: { listen: "127.0.0.1:0" } }),
      }),
    );
    const proc = spawnCli(["serve", "--config", config!]);
    const started = await proc.waitForLog({ event: "started" });
    const healthcheck = () => spawnSync(process.execPath, command.slice(1), { env: { ...process.env, GUARDPOST_HEALTHCHECK_URL: `http://${started.admin as string}/readyz` }, timeout: 10_000 }).status;
    expect(healthcheck()).toBe(0);
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(healthcheck()).toBe(1);
  });
});
