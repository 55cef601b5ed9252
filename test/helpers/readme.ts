/**
 * The README's runnable parts, read as a user would copy them: a section by
 * its heading, its fenced blocks (de-indented when they sit in a list
 * item), and console blocks split into commands (`$ ` lines, with their
 * heredoc bodies and `\` continuations) and the output shown after each.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const README = fileURLToPath(new URL("../../README.md", import.meta.url));

/** The text under `## heading`, up to the next `## `. */
export function readmeSection(heading: string): string {
  const text = readFileSync(README, "utf8");
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`README.md has no section "## ${heading}"`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

export interface FencedBlock {
  readonly lang: string;
  readonly body: string;
}

/** Fenced blocks in order, each without the indentation of the list item it sits in. */
export function fencedBlocks(section: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  for (const match of section.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)) {
    const indent = match[1]!.length;
    const body = match[3]!
      .split("\n")
      .map((line) => line.slice(Math.min(indent, /^ */.exec(line)![0].length)))
      .join("\n");
    blocks.push({ lang: match[2]!, body });
  }
  return blocks;
}

export interface ConsoleStep {
  /** What the user pastes, heredoc bodies and continuation lines included. */
  readonly command: string;
  /** The output the README shows after it; empty when it shows none. */
  readonly output: readonly string[];
}

/** A console block as commands and their shown output. */
export function consoleSteps(body: string): ConsoleStep[] {
  const steps: { command: string; output: string[] }[] = [];
  const lines = body.replace(/\n$/, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith("$ ")) {
      if (steps.length === 0) throw new Error(`console block starts with output, not a command: ${line}`);
      steps.at(-1)!.output.push(line);
      continue;
    }
    const command = [line.slice(2)];
    while (command.at(-1)!.endsWith("\\") && i + 1 < lines.length) command.push(lines[++i]!);
    const heredoc = /<<-?'?(\w+)'?/.exec(command.join("\n"));
    if (heredoc) {
      while (i + 1 < lines.length) {
        command.push(lines[++i]!);
        if (lines[i] === heredoc[1]) break;
      }
    }
    steps.push({ command: command.join("\n"), output: [] });
  }
  return steps;
}

/** Whether `actual` is what the README shows; `...` in a shown line stands for any text. */
export function matchesShown(actual: string, shown: string): boolean {
  const pattern = shown
    .split("...")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`).test(actual);
}
