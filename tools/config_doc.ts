/**
 * The Markdown reference of every configuration key, generated from the key table in
 * lib/config/schema.ts: docs/configuration.md, and the key table of README.md (tools/readme_table.ts).
 *
 * Run `deno run --allow-write tools/config_doc.ts` to regenerate docs/configuration.md.
 * @module
 */
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  type KeySpec,
} from "../lib/config/schema.ts";

/** Fills a paragraph greedily to the formatter's line width (110), as `deno fmt` does. */
function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function mdTable(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((r) => r.map((c) => c.replaceAll("|", "\\|")));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...cells.slice(1).map(line)];
}

/**
 * The Markdown reference of every key (flag, variables, YAML key, default, meaning) and of the legacy
 * variables: the content of docs/configuration.md.
 *
 * @example
 * ```ts
 * import { configTable } from "./config_doc.ts";
 * configTable().startsWith("# Configuration"); // true
 * ```
 */
export function configTable(): string {
  const rows = CONFIG_KEY_NAMES.map((name) => {
    const s: KeySpec = CONFIG_KEYS[name];
    const envs = [s.env, ...s.aliases].map((e) => `\`${e}\``).join(", ");
    return [`\`${s.key}\``, `\`${s.flag} <${s.arg}>\``, envs, `\`${s.key}\``, s.defaultDoc, s.doc];
  });
  rows.push([
    "(file)",
    `\`${CONFIG_FILE_FLAG} <path>\``,
    `\`${CONFIG_FILE_ENV}\``,
    "",
    "none",
    "The YAML configuration file",
  ]);
  const legacyRows = CONFIG_KEY_NAMES.flatMap((name) =>
    CONFIG_KEYS[name].legacy.map((l) => [`\`${l.name}\``, `\`${name}\``, l.doc])
  );
  return [
    "# Configuration",
    "",
    "<!-- Generated from lib/config/schema.ts: run `deno run --allow-write tools/config_doc.ts`. Do not edit. -->",
    "",
    ...wrap(
      "Each setting is taken from the first of: a command-line flag; an environment variable (`ERLMESH_*` first, " +
        "then the legacy variables); the YAML file named by `--config` or `ERLMESH_CONFIG`; the default. The YAML " +
        "keys are the camelCase key names. `erlmesh` never reads the cookie from flags, `ERLMESH_*` variables or " +
        "the YAML file: use `cookieFile` or `RELEASE_COOKIE`.",
    ),
    "",
    ...mdTable(["Key", "Flag", "Environment", "YAML", "Default", "Meaning"], rows),
    "",
    "## Value formats",
    "",
    "- Durations: `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a whole number of milliseconds (`1000`).",
    "- Lists (`service`, `hosts`): `a,b`, `a b`, `['a','b']`, `[\"a\", \"b\"]`, or a YAML sequence.",
    "- Booleans: `true`, `false`, `1`, `0`, `yes`, `no`.",
    "- An empty environment variable counts as unset, except for `srvPortName` and `http`, where empty is a value.",
    "",
    "## Legacy variables",
    "",
    ...wrap(
      "Read after the `ERLMESH_*` variable of the same key and before the YAML file. Downward-API values that " +
        "only build a default (`POD_NAME`, `POD_IP`) come after the YAML file.",
    ),
    "",
    ...mdTable(["Variable", "Key", "Meaning"], legacyRows),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const target = new URL("../docs/configuration.md", import.meta.url);
  await Deno.mkdir(new URL(".", target), { recursive: true });
  await Deno.writeTextFile(target, configTable());
  console.log(`Wrote ${target.pathname}`);
}
