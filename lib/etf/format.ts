import {
  Atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  ImproperList,
  LocalFun,
  Pid,
  Port,
  Ref,
  type Term,
  Tuple,
} from "./term.ts";

const MAX_OUT = 4096;

/**
 * Prints a term roughly as Erlang's `~0p` does, for messages and text output. Lists of printable
 * characters print as strings; output longer than 4 KiB is cut with `...`.
 */
export function formatTerm(t: Term): string {
  const out = fmt(t, 0);
  return out.length > MAX_OUT ? out.slice(0, MAX_OUT) + "..." : out;
}

function printable(list: Term[]): boolean {
  return list.length > 0 &&
    list.every((c) => typeof c === "number" && ((c >= 32 && c < 127) || c === 10 || c === 9));
}

function fmt(t: Term, depth: number): string {
  if (depth > 50) return "...";
  const d = depth + 1;
  if (typeof t === "number") {
    if (Number.isInteger(t)) return String(t);
    return fmtFloat(t);
  }
  if (typeof t === "bigint") return t.toString();
  if (typeof t === "boolean") return String(t);
  if (typeof t === "string") return JSON.stringify(t);
  if (t instanceof Atom) return t.toString();
  if (t instanceof ErlFloat) return fmtFloat(t.value);
  if (t instanceof Uint8Array) {
    const text = t.length > 0 && t.every((b) => b >= 32 && b < 127)
      ? JSON.stringify(String.fromCharCode(...t.slice(0, 1024)))
      : undefined;
    return text ? `<<${text}>>` : `<<${[...t.subarray(0, 256)].join(",")}${t.length > 256 ? ",..." : ""}>>`;
  }
  if (t instanceof BitBinary) {
    const whole = [...t.bytes.subarray(0, t.bytes.length - 1)];
    const last = t.bytes[t.bytes.length - 1] >> (8 - t.bits);
    return `<<${[...whole, `${last}:${t.bits}`].join(",")}>>`;
  }
  if (Array.isArray(t)) {
    if (printable(t)) return JSON.stringify(String.fromCharCode(...(t as number[])));
    return `[${t.map((x) => fmt(x, d)).join(",")}]`;
  }
  if (t instanceof ImproperList) return `[${t.elements.map((x) => fmt(x, d)).join(",")}|${fmt(t.tail, d)}]`;
  if (t instanceof Tuple) return `{${t.elements.map((x) => fmt(x, d)).join(",")}}`;
  if (t instanceof ErlMap) return `#{${t.entries.map(([k, v]) => `${fmt(k, d)} => ${fmt(v, d)}`).join(",")}}`;
  if (t instanceof Pid) return `<${t.node.name}.${t.id}.${t.serial}>`;
  if (t instanceof Ref) return `#Ref<${t.node.name}.${t.ids.join(".")}>`;
  if (t instanceof Port) return `#Port<${t.node.name}.${t.id}>`;
  if (t instanceof ExportFun) return `fun ${t.module}:${t.function}/${t.arity}`;
  if (t instanceof LocalFun) return `#Fun<${t.module}.${t.arity}>`;
  return String(t);
}

function fmtFloat(v: number): string {
  const s = String(v);
  return /[.e]/.test(s) ? s.replace(/e\+?/, "e") : `${s}.0`;
}
