/**
 * Exact-length reads, length-prefixed writes and the transport interface the wire codecs run over.
 * @module
 */
export { type BytesErrorCode, BytesError } from "./errors.ts";
export { abortable, abortError, type ConnectOptions, connectTcp, deadline, type Transport } from "./transport.ts";
export { ExactReader, writeAll } from "./reader.ts";
export { ByteWriter, frame16, frame32 } from "./writer.ts";
export { MemoryTransport, memoryPipe } from "./memory.ts";
