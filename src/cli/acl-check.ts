import type { Command } from "./io.js";

// Placeholder until the command lands; refuses to run rather than pretend.
export const aclCheckCommand: Command = {
  name: "acl check",
  summary: "",
  usage: "not implemented yet\n",
  async run(_args, io) {
    io.stderr.write("guardpost: acl check is not implemented yet\n");
    return 2;
  },
};
