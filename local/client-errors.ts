/**
 * How the local servers treat bytes they cannot parse, as the real hosts do. Node's default answers
 * `400` with an empty body and destroys the socket at once — even when the request before the bad
 * bytes is still being answered, so that answer is lost. A client that sends a body after
 * `Content-Length: 0` on a GET (some published Clover clients do) then never sees its GET answered,
 * where a real server answers the GET and only then refuses what follows. Here: the request in
 * flight is answered first; then the unparsable rest gets a 400 with a body and the connection
 * closes.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const inFlight = new WeakMap<Socket, Set<ServerResponse>>();

export function answerBeforeRefusing(server: Server): void {
  server.on('request', (req, res: ServerResponse) => {
    const socket = req.socket;
    let set = inFlight.get(socket);
    if (!set) {
      set = new Set();
      inFlight.set(socket, set);
    }
    set.add(res);
    res.on('close', () => set.delete(res));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refuse = () => {
      if (!socket.writable) return socket.destroy();
      const body = JSON.stringify({ message: 'Bad Request' });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const pending = [...(inFlight.get(socket) ?? [])];
    if (pending.length === 0) return refuse();
    Promise.all(pending.map((res) => new Promise((r) => res.once('close', r)))).then(refuse);
  });
}
