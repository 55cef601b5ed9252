/**
 * LineWriter, in a real child process writing to a real pipe: lines are held
 * back only until a batch fills, the flush interval passes, or the process
 * exits, and none is lost when the process exits with lines pending.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const WRITER = fileURLToPath(new URL("../../../dist/log/line-writer.js", import.meta.url));

/** Runs `body` in a child with `writer` = new LineWriter(1, options); resolves its stdout and exit code. */
function child(body: string, options: Record<string, number> = {}, stdin: "pipe-closed" | "read" = "read"): Promise<{ stdout: string; code: number | null; stderr: string }> {
  const script = `import { LineWriter } from ${JSON.stringify(WRITER)};\nconst writer = new LineWriter(1, ${JSON.stringify(options)});\n${body}`;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  if (stdin === "pipe-closed") proc.stdout.destroy();
  else proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => proc.on("close", (code) => resolve({ stdout, code, stderr })));
}

describe("LineWriter", () => {
  it("writes every pending line when the process exits right after writing them", async () => {
    const { stdout, code } = await child('for (let i = 0; i < 5000; i++) writer.write(\'{"n":\' + i + \'}\\n\');\nprocess.exit(3);', { batchBytes: 1 << 20, flushMs: 60_000 });
    expect(code).toBe(3);
    const lines = stdout.split("\n").filter(Boolean);
    expect(lines).toHaveLength(5000);
    expect(lines.at(-1)).toBe('{"n":4999}');
  });

  it("holds a line no longer than the flush interval", async () => {
    // SIGKILL runs no exit hook: the line is there only if the interval wrote it.
    const { stdout } = await child('writer.write("first\\n");\nsetTimeout(() => process.kill(process.pid, "SIGKILL"), 400);', { batchBytes: 1 << 20, flushMs: 50 });
    expect(stdout).toBe("first\n");
  });

  it("shared: two processes writing big batches to one pipe never split each other's lines", async () => {
    const writer = (tag: string) =>
      `import { LineWriter } from ${JSON.stringify(WRITER)};\n` +
      `const w = new LineWriter(1, { shared: true, batchBytes: 256 * 1024 });\n` +
      `for (let i = 0; i < 20000; i++) w.write("${tag}" + i + "-" + "${tag}".repeat(60) + "\\n");\n`;
    // Both children inherit one pipe for stdout; the parent stops reading for a while so that it fills.
    const proc = spawn("sh", ["-c", `"$0" --input-type=module -e "$1" & "$0" --input-type=module -e "$2" & wait`, process.execPath, writer("a"), writer("b")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    proc.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    proc.stdout.resume();
    await new Promise((resolve) => proc.on("close", resolve));
    const lines = out.split("\n").filter(Boolean);
    const torn = lines.filter((line) => !/^(a\d+-a{60}|b\d+-b{60})$/.test(line));
    expect(torn.slice(0, 3)).toEqual([]);
    expect(lines).toHaveLength(40000);
  });

  it("does not crash the process when nobody reads stdout any more", async () => {
    const { code, stderr } = await child('for (let i = 0; i < 2000; i++) writer.write("x".repeat(100) + "\\n");\nwriter.flush();\nprocess.stderr.write("alive\\n");', { batchBytes: 1024 }, "pipe-closed");
    expect(stderr).toContain("alive");
    expect(code).toBe(0);
  });
});
