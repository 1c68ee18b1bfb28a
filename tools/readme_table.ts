/**
 * Writes the generated tables into README.md: the configuration keys (between the `config-table`
 * markers) and each command's own options (between the `command-options` markers), both from the code.
 */
import { configTable } from "./config_doc.ts";
import { type CommandName, COMMANDS, LOADERS } from "../lib/cli/commands.ts";
import { CONFIG_KEY_NAMES } from "../lib/config/mod.ts";

/** The configuration keys as a Markdown table. */
export function keysTable(): string {
  const md = configTable();
  const start = md.indexOf("| Key");
  const end = md.indexOf("\n\n", start);
  return md.slice(start, end === -1 ? undefined : end);
}

/** Each command's own options (not the configuration keys, not -o/-v/-h) as a Markdown table. */
export async function commandOptionsTable(): Promise<string> {
  const keys = new Set<string>([...CONFIG_KEY_NAMES, "config"]);
  const rows: string[][] = [];
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const { command } = await LOADERS[name]();
    for (const o of command.options) {
      if (keys.has(o.key)) continue;
      rows.push([
        `\`${name}\``,
        `\`--${o.long}${o.arg ? ` <${o.arg}>` : ""}\``,
        o.defaultDoc ? `\`${o.defaultDoc}\`` : "",
        o.help.replaceAll("|", "\\|"),
      ]);
    }
  }
  const header = ["Command", "Option", "Default", "Meaning"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join("\n");
}

function between(readme: string, name: string, content: string): string {
  const begin = `<!-- ${name} -->`;
  const stop = `<!-- /${name} -->`;
  const i = readme.indexOf(begin);
  const j = readme.indexOf(stop);
  if (i === -1 || j === -1) throw new Error(`README.md lacks the ${begin} … ${stop} markers`);
  return `${readme.slice(0, i + begin.length)}\n\n${content}\n\n${readme.slice(j)}`;
}

/** README.md with its generated tables brought up to date. */
export async function renderReadme(readme: string): Promise<string> {
  return between(
    between(readme, "config-table", keysTable()),
    "command-options",
    await commandOptionsTable(),
  );
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  await Deno.writeTextFile(path, await renderReadme(await Deno.readTextFile(path)));
}
