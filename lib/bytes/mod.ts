/**
 * Exact-length reads, length-prefixed writes and the transport interface the wire codecs run over.
 * @module
 */
export { BytesError, type BytesErrorCode } from "./errors.ts";
export { abortable, abortError, type ConnectOptions, connectTcp, type Transport } from "./transport.ts";
export { ExactReader, writeAll } from "./reader.ts";
export { ByteWriter, frame16, frame32 } from "./writer.ts";
export { memoryPipe, MemoryTransport } from "./memory.ts";
export { pooledMap } from "./pool.ts";
export { after, deadline, type Disarm, every, sleep } from "./timer.ts";
