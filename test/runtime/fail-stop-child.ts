// A recording server whose journal file layer can be made to fail on demand:
// SIGUSR2 makes every later journal write fail with ENOSPC. It reacts to the
// failure the way `replay record` does (src/commands/record.ts): close, then
// exit 74. Usage: fail-stop-child.ts <app> <journal> <config-json>
import { nodeFileLayer } from '../../src/journal/index.js';
import { startServer, type RunningServer } from '../../src/runtime/server.js';
import { FaultyLayer, errno } from '../helpers/faulty-layer.js';

const [app, journal, config] = process.argv.slice(2);
const layer = new FaultyLayer(nodeFileLayer);
process.on('SIGUSR2', () => {
  layer.faults.write = () => ({ error: errno('ENOSPC', 'no space left on device') });
  process.stderr.write('journal writes fail from now on\n');
});
const log = (line: string): void => void process.stderr.write(`${line}\n`);
// eslint-disable-next-line prefer-const
let server: RunningServer;
server = await startServer(app, {
  journal,
  config: JSON.parse(config) as Record<string, unknown>,
  layer,
  log,
  onFatal: () => void server.close().finally(() => process.exit(74)),
});
log(`listening on ${server.url}`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
