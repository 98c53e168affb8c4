// The Temporal peer in a process of its own, driven by bench/replay.ts over
// the IPC channel of child_process.fork(), so that neither replayer runs
// with the other's heap (a thousand protobuf histories make every garbage
// collection in the same process slower) or runtime threads.
//
//   {cmd: 'load', facts}          bundle the workflows, build one history per
//                                 transfer for both shapes, run the checks
//   {cmd: 'replay', shape}        replay that shape's histories, timed
//   {cmd: 'exit'}
import { createTemporalPeer, transferHistory, workflowIdOf, type TransferFacts, type WorkflowShape } from './peer.js';

type Message = { cmd: 'load'; facts: TransferFacts[] } | { cmd: 'replay'; shape: WorkflowShape } | { cmd: 'exit' };

const peer = await createTemporalPeer();
const prepared = new Map<WorkflowShape, { workflowId: string; history: unknown }[]>();
const gc = (globalThis as { gc?: () => void }).gc;

async function handle(message: Message): Promise<unknown> {
  if (message.cmd === 'load') {
    const shapes: WorkflowShape[] = ['transfer', 'transferBriefed'];
    const events: Record<string, number> = {};
    const checks: Record<string, unknown> = {};
    for (const shape of shapes) {
      prepared.set(shape, peer.prepare(message.facts.map((f) => ({ workflowId: workflowIdOf(f), history: transferHistory(f, shape) }))));
      events[shape] = transferHistory(message.facts[0], shape).events.length;
      // The checks: the histories replay clean, and one with an activity renamed is a determinism violation.
      const clean = await peer.replay(prepared.get(shape)!.slice(0, Math.min(20, message.facts.length)));
      const renamed = await peer.replay(
        peer.prepare([{ workflowId: 'renamed', history: transferHistory(message.facts[0], shape, { from: 'scoreTransfer', to: 'scoreTransferV2' }) }]),
      );
      checks[shape] = { clean, renamed };
    }
    return { version: peer.version, bundleMs: peer.bundleMs, bundleBytes: peer.bundleBytes, events, checks };
  }
  if (message.cmd === 'replay') {
    gc?.();
    return peer.replay(prepared.get(message.shape)!);
  }
  process.exit(0);
}

process.on('message', (message: Message) => {
  handle(message).then(
    (reply) => process.send!({ ok: true, reply }),
    (error: Error) => process.send!({ ok: false, error: error.stack ?? String(error) }),
  );
});
process.send!({ ok: true, reply: 'ready' });
