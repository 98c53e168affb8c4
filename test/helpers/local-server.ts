import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

// An HTTP server on a free loopback port, for callees and stubs the tests
// stand up: its base URL, and a close that does not wait for kept-alive
// connections (a recorder that was killed leaves them open).

export interface LocalServer {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

export async function listenLocally(handler: http.RequestListener): Promise<LocalServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
