import { main } from "./main.ts";
import * as ping from "./ping.ts";
import * as status from "./status.ts";
const L = new Proxy({}, { get: (_t, k) => () => Promise.resolve(k === "status" ? status : ping) });
Deno.exit(await main(Deno.args, L as never));
