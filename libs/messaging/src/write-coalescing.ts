import type { Writable } from 'node:stream';

/**
 * Makes everything written to `socket` in one event-loop turn leave in one system call.
 *
 * amqplib writes each frame batch of each channel separately (its channels are object-mode
 * streams multiplexed onto the socket), so a reply and an ack, or a job's publishes, cost a
 * `write` for the first and a `writev` for the rest once the first has gone. On this kind of
 * virtualised machine a system call is the larger part of a message's CPU (bench/README.md), so
 * the socket is corked at the first write of a turn and uncorked on the next tick: Node then hands
 * the kernel all of the turn's frames in one `writev`. The order of frames is unchanged and
 * nothing waits longer than the current turn.
 */
export function coalesceWrites(socket: Writable): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Writable['write'];
}

/** The socket under an amqplib connection (`ChannelModel.connection.stream`), if it has one. */
export function amqpSocket(channelModel: unknown): Writable | undefined {
  const connection: unknown =
    channelModel && typeof channelModel === 'object'
      ? Reflect.get(channelModel, 'connection')
      : undefined;
  const stream: unknown =
    connection && typeof connection === 'object' ? Reflect.get(connection, 'stream') : undefined;
  return stream &&
    typeof stream === 'object' &&
    typeof Reflect.get(stream, 'cork') === 'function' &&
    typeof Reflect.get(stream, 'write') === 'function'
    ? (stream as Writable)
    : undefined;
}
