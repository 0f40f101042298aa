import net from 'node:net';

/** Fails with one line naming the variable to change when a port is taken. */
export async function assertPortFree(port: number, variable: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new PortInUseError(
          e.code === 'EADDRINUSE'
            ? `Port ${port} is already in use: set ${variable} to a free port (e.g. ${variable}=${port + 10} npm start).`
            : `Cannot listen on port ${port} (${e.code}): set ${variable} to another port.`,
        ),
      ),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** A port the OS says is free now (for tests that start several platforms). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
