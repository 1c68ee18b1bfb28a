import { atom, type Pid, type Ref, type Term, Tuple, tuple } from "../etf/term.ts";

/** Distribution control message operations (erts/emulator/beam/dist.h `enum dop`). */
export const DOP = {
  LINK: 1,
  SEND: 2,
  EXIT: 3,
  UNLINK: 4,
  REG_SEND: 6,
  GROUP_LEADER: 7,
  EXIT2: 8,
  SEND_TT: 12,
  EXIT_TT: 13,
  REG_SEND_TT: 16,
  EXIT2_TT: 18,
  MONITOR_P: 19,
  DEMONITOR_P: 20,
  MONITOR_P_EXIT: 21,
  SEND_SENDER: 22,
  SEND_SENDER_TT: 23,
  PAYLOAD_EXIT: 24,
  PAYLOAD_EXIT_TT: 25,
  PAYLOAD_EXIT2: 26,
  PAYLOAD_EXIT2_TT: 27,
  PAYLOAD_MONITOR_P_EXIT: 28,
  SPAWN_REQUEST: 29,
  SPAWN_REQUEST_TT: 30,
  SPAWN_REPLY: 31,
  SPAWN_REPLY_TT: 32,
  ALIAS_SEND: 33,
  ALIAS_SEND_TT: 34,
  UNLINK_ID: 35,
  UNLINK_ID_ACK: 36,
  ALTACT_SIG_SEND: 37,
} as const;

const empty = atom("");

/** `{6, From, '', ToName}`: send to a registered name. */
export function regSend(from: Pid, toName: string): Tuple {
  return tuple(DOP.REG_SEND, from, empty, atom(toName));
}

/** `{2, '', ToPid}`: send to a pid. */
export function send(to: Pid): Tuple {
  return tuple(DOP.SEND, empty, to);
}

/** `{3, From, To, Reason}`: the exit signal of a link. */
export function exit(from: Pid, to: Pid, reason: Term): Tuple {
  return tuple(DOP.EXIT, from, to, reason);
}

/** `{21, FromProc, ToPid, Ref, Reason}`: a monitored process is gone. */
export function monitorExit(from: Term, to: Term, ref: Ref | Term, reason: Term): Tuple {
  return tuple(DOP.MONITOR_P_EXIT, from, to, ref, reason);
}

/** `{36, Id, From, To}`: acknowledges an UNLINK_ID. */
export function unlinkIdAck(id: Term, from: Term, to: Term): Tuple {
  return tuple(DOP.UNLINK_ID_ACK, id, from, to);
}

/** The operation number of a control tuple, or undefined when it is not one. */
export function controlOp(control: Term): number | undefined {
  if (!(control instanceof Tuple) || control.arity === 0) return undefined;
  const op = control.elements[0];
  return typeof op === "number" ? op : undefined;
}
