import {
  BytesError,
  ByteWriter,
  type Disarm,
  every,
  type ExactReader,
  type Transport,
  writeAll,
} from "../bytes/mod.ts";
import { decodeTermAt, encodeTermInto, EtfDecodeError } from "../etf/mod.ts";
import type { Term } from "../etf/term.ts";
import { LinkError } from "./errors.ts";

/** One message received on a distribution link. */
export interface DistMessage {
  /** The control tuple, `{Op, …}`. */
  control: Term;
  /** The message term, for operations that carry one. */
  message?: Term;
}

/** Options of {@link DistChannel}. */
export interface ChannelOptions {
  /** The peer's node name, for error messages. */
  node: string;
  /** Called for each decoded message. */
  onMessage: (msg: DistMessage) => void;
  /** Called once when the link ends, with the reason. */
  onClose?: (reason: LinkError) => void;
  /** Send a tick when nothing was written for this long. @default 15000 */
  tickIntervalMs?: number;
  /** Treat the peer as gone when nothing was read for this long. @default 75000 */
  deadAfterMs?: number;
  /** The largest packet accepted. @default 64 MiB */
  maxPacketBytes?: number;
  /** Called for a packet that could not be decoded (the link stays up). */
  onBadPacket?: (err: Error) => void;
}

const TICK = new Uint8Array(4);

/**
 * A distribution link after the handshake: u32-framed packets, ticks answered at once and sent when
 * idle, and pass-through (`p`) packets decoded into control and message terms.
 */
export class DistChannel {
  #t: Transport;
  #reader: ExactReader;
  #opts:
    & Required<Omit<ChannelOptions, "onClose" | "onBadPacket">>
    & Pick<ChannelOptions, "onClose" | "onBadPacket">;
  #writeChain: Promise<void> = Promise.resolve();
  #lastRead = Date.now();
  #lastWrite = Date.now();
  #stopTimer: Disarm;
  #closedReason: LinkError | undefined;
  #resolveClosed!: (e: LinkError) => void;
  /** Resolves (never rejects) with the reason once the link has ended. */
  readonly closed: Promise<LinkError>;

  /**
   * Takes over `t` after a successful handshake; `reader` is the one the handshake read through, so
   * bytes it already buffered are not lost. Starts reading and ticking at once.
   */
  constructor(t: Transport, reader: ExactReader, options: ChannelOptions) {
    this.#t = t;
    this.#reader = reader;
    this.#opts = {
      ...options,
      tickIntervalMs: options.tickIntervalMs ?? 15000,
      deadAfterMs: options.deadAfterMs ?? 75000,
      maxPacketBytes: options.maxPacketBytes ?? 64 * 1024 * 1024,
    };
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    const tickEvery = Math.max(50, Math.min(this.#opts.tickIntervalMs, this.#opts.deadAfterMs) / 4);
    this.#stopTimer = every(tickEvery, () => this.#onTimer());
    this.#readLoop();
  }

  /** True until the link ends. */
  get open(): boolean {
    return this.#closedReason === undefined;
  }

  #onTimer(): void {
    const now = Date.now();
    if (now - this.#lastRead > this.#opts.deadAfterMs) {
      const node = this.#opts.node;
      this.#shutdown(
        new LinkError(
          "SILENT",
          node,
          `Cannot keep the link to '${node}': nothing was heard from it for ${this.#opts.deadAfterMs} ms (not even a tick)`,
        ),
      );
      return;
    }
    if (now - this.#lastWrite >= this.#opts.tickIntervalMs) this.#write(TICK).catch(() => {});
  }

  async #readLoop(): Promise<void> {
    try {
      while (this.open) {
        const head = await this.#reader.readExact(4);
        this.#lastRead = Date.now();
        const len = new DataView(head.buffer).getUint32(0);
        if (len === 0) {
          await this.#write(TICK);
          continue;
        }
        if (len > this.#opts.maxPacketBytes) {
          const node = this.#opts.node;
          throw new LinkError(
            "TOO_LARGE",
            node,
            `Cannot read a packet from '${node}': its header announces ${len} bytes, the limit is ${this.#opts.maxPacketBytes}`,
          );
        }
        const body = await this.#reader.readExact(len);
        this.#lastRead = Date.now();
        this.#dispatch(body);
      }
    } catch (err) {
      this.#shutdown(this.#linkError("read from", err));
    }
  }

  /** The reason a read or write failure ends the link with. */
  #linkError(action: "read from" | "send to", err: unknown): LinkError {
    if (err instanceof LinkError) return err;
    const node = this.#opts.node;
    if (err instanceof BytesError && err.code === "EOF") {
      return new LinkError("PEER_CLOSED", node, `Cannot ${action} '${node}': it closed the connection`, {
        cause: err,
      });
    }
    const why = err instanceof Error ? err.message : String(err);
    return new LinkError("BROKEN", node, `Cannot ${action} '${node}': the connection failed (${why})`, {
      cause: err,
    });
  }

  #dispatch(body: Uint8Array): void {
    if (body[0] !== 112) {
      this.#opts.onBadPacket?.(
        new LinkError(
          "BAD_PACKET",
          this.#opts.node,
          `Cannot decode a packet from '${this.#opts.node}': its type is ${
            body[0]
          }, only pass-through ('p') packets are negotiated (ignored, the link stays up)`,
        ),
      );
      return;
    }
    let msg: DistMessage;
    try {
      const c = decodeTermAt(body, 1);
      msg = { control: c.term };
      if (c.offset < body.length) {
        const m = decodeTermAt(body, c.offset);
        msg.message = m.term;
      }
    } catch (err) {
      if (err instanceof EtfDecodeError) {
        this.#opts.onBadPacket?.(err as Error);
        return;
      }
      throw err;
    }
    this.#opts.onMessage(msg);
  }

  /** Sends a control message (and a message term for operations that carry one). */
  send(control: Term, message?: Term): Promise<void> {
    const w = new ByteWriter(256);
    w.u32(0).u8(112).u8(131);
    encodeTermInto(w, control);
    if (message !== undefined) {
      w.u8(131);
      encodeTermInto(w, message);
    }
    w.setU32(0, w.length - 4);
    return this.#write(w.finish());
  }

  #write(bytes: Uint8Array): Promise<void> {
    if (!this.open) {
      const node = this.#opts.node;
      return Promise.reject(
        new LinkError("CLOSED", node, `Cannot send to '${node}': the link is closed`, {
          cause: this.#closedReason,
        }),
      );
    }
    const next = this.#writeChain.then(async () => {
      await writeAll(this.#t, bytes);
      this.#lastWrite = Date.now();
    });
    this.#writeChain = next.catch((err) => this.#shutdown(this.#linkError("send to", err)));
    return next;
  }

  #shutdown(reason: LinkError): void {
    if (this.#closedReason) return;
    this.#closedReason = reason;
    this.#stopTimer();
    this.#t.close();
    this.#opts.onClose?.(reason);
    this.#resolveClosed(reason);
  }

  /** Ends the link. */
  close(): void {
    const node = this.#opts.node;
    this.#shutdown(new LinkError("CLOSED", node, `Cannot use the link to '${node}': erlmesh closed it`));
  }
}
