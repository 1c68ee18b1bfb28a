/** Writes the configuration table into README.md between the `config-table` markers. */
import { configTable } from "../lib/config/mod.ts";

export function keysTable(): string {
  const md = configTable();
  const start = md.indexOf("| Key");
  const end = md.indexOf("\n\n", start);
  return md.slice(start, end === -1 ? undefined : end);
}

export function renderReadme(readme: string): string {
  const begin = "<!-- config-table -->";
  const stop = "<!-- /config-table -->";
  const i = readme.indexOf(begin);
  const j = readme.indexOf(stop);
  const head = readme.slice(0, i + begin.length);
  const tail = j === -1 ? readme.slice(i + begin.length) : readme.slice(j + stop.length);
  return `${head}\n\n${keysTable()}\n\n${stop}${tail}`;
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  await Deno.writeTextFile(path, renderReadme(await Deno.readTextFile(path)));
}
