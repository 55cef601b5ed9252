import type { Command } from "./io.js";

// Placeholder until the command lands; refuses to run rather than pretend.
export const demoCommand: Command = {
  name: "demo",
  summary: "",
  usage: "not implemented yet\n",
  async run(_args, io) {
    io.stderr.write("guardpost: demo is not implemented yet\n");
    return 2;
  },
};
