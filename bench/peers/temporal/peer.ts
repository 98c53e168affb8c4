// Temporal's TypeScript replayer (Worker.runReplayHistories from
// @temporalio/worker 1.x), offline, as a peer for bench/replay.ts. This file
// is loaded by the benchmark from here, so that '@temporalio/*' resolve in
// bench/peers/temporal/node_modules, never in Windback's own dependencies.
//
// Histories are built by hand in Temporal's JSON history format (the format of
// `temporal workflow show --output json` and of the SDK's
// packages/test/history_files/): string event ids, EVENT_TYPE_* names and
// base64 `json/plain` payloads. One history per recorded bank transfer, with
// that session's input and results.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What one recorded transfer session did, taken from the Windback journal. */
export interface TransferFacts {
  session: number;
  input: { from: string; to: string; amount: number };
  accounts: { id: string; balance: number }[];
  risk: number;
  balance: number;
  transferId: string;
}

export type WorkflowShape = 'transfer' | 'transferBriefed';

const JSON_PLAIN = Buffer.from('json/plain').toString('base64');
const TASK_QUEUE = { name: 'bank', kind: 'TASK_QUEUE_KIND_NORMAL' };
const IDENTITY = '4242@windback-bench';
const SDK_VERSION = '1.24.0';

function payloads(...values: unknown[]): { payloads: { metadata: { encoding: string }; data: string }[] } {
  return { payloads: values.map((v) => ({ metadata: { encoding: JSON_PLAIN }, data: Buffer.from(JSON.stringify(v)).toString('base64') })) };
}

/**
 * The history of one transfer workflow in JSON form: started, a first
 * workflow task, then per activity scheduled / started / completed and the
 * workflow task it wakes, then completed. `rename` changes one activity's
 * name in the history (a history the code cannot have produced).
 */
export function transferHistory(facts: TransferFacts, shape: WorkflowShape, rename?: { from: string; to: string }): { events: unknown[] } {
  const events: Record<string, unknown>[] = [];
  let clock = Date.UTC(2026, 10, 28, 9, 0, 0) + facts.session * 1000;
  const runId = `00000000-0000-4000-8000-${String(facts.session).padStart(12, '0')}`;
  const event = (type: string, attributes: string, value: Record<string, unknown>): number => {
    const id = events.length + 1;
    events.push({ eventId: String(id), eventTime: new Date((clock += 3)).toISOString(), eventType: `EVENT_TYPE_${type}`, taskId: String(1_048_576 + id), [attributes]: value });
    return id;
  };
  const workflowTask = (): number => {
    const scheduled = event('WORKFLOW_TASK_SCHEDULED', 'workflowTaskScheduledEventAttributes', { taskQueue: TASK_QUEUE, startToCloseTimeout: '10s', attempt: 1 });
    const started = event('WORKFLOW_TASK_STARTED', 'workflowTaskStartedEventAttributes', {
      scheduledEventId: String(scheduled),
      identity: IDENTITY,
      requestId: `${runId}-wt-${scheduled}`,
    });
    return event('WORKFLOW_TASK_COMPLETED', 'workflowTaskCompletedEventAttributes', {
      scheduledEventId: String(scheduled),
      startedEventId: String(started),
      identity: IDENTITY,
      // What a worker of this SDK records in its first task. Core flag 1
      // (IdAndTypeDeterminismChecks) is what makes replay compare activity
      // types: without it, a history from an old worker is replayed leniently.
      ...(scheduled === 2 ? { sdkMetadata: { coreUsedFlags: [3, 2, 1], sdkName: 'temporal-typescript', sdkVersion: SDK_VERSION } } : {}),
      meteringMetadata: {},
    });
  };
  let activityId = 0;
  const activity = (after: number, name: string, input: unknown[], result: unknown): number => {
    const typeName = rename && rename.from === name ? rename.to : name;
    const scheduled = event('ACTIVITY_TASK_SCHEDULED', 'activityTaskScheduledEventAttributes', {
      activityId: String(++activityId),
      activityType: { name: typeName },
      taskQueue: TASK_QUEUE,
      header: { fields: {} },
      input: payloads(...input),
      scheduleToCloseTimeout: '0s',
      scheduleToStartTimeout: '0s',
      startToCloseTimeout: '10s',
      heartbeatTimeout: '0s',
      workflowTaskCompletedEventId: String(after),
      retryPolicy: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '100s' },
    });
    const started = event('ACTIVITY_TASK_STARTED', 'activityTaskStartedEventAttributes', {
      scheduledEventId: String(scheduled),
      identity: IDENTITY,
      requestId: `${runId}-at-${scheduled}`,
      attempt: 1,
    });
    event('ACTIVITY_TASK_COMPLETED', 'activityTaskCompletedEventAttributes', {
      result: payloads(result),
      scheduledEventId: String(scheduled),
      startedEventId: String(started),
      identity: IDENTITY,
    });
    return workflowTask();
  };

  const { from, to, amount } = facts.input;
  event('WORKFLOW_EXECUTION_STARTED', 'workflowExecutionStartedEventAttributes', {
    workflowType: { name: shape },
    taskQueue: TASK_QUEUE,
    input: payloads(facts.input),
    workflowTaskTimeout: '10s',
    originalExecutionRunId: runId,
    identity: IDENTITY,
    firstExecutionRunId: runId,
    attempt: 1,
    firstWorkflowTaskBackoff: '0s',
    header: { fields: {} },
    workflowId: workflowIdOf(facts),
  });
  let last = workflowTask();
  last = activity(last, 'readAccounts', [from, to], facts.accounts);
  last = activity(last, 'scoreTransfer', [{ from, to, amount }], { risk: facts.risk });
  last = activity(last, 'writeTransfer', [{ from, to, amount, id: facts.transferId, risk: facts.risk }], { balance: facts.balance });
  if (shape === 'transfer') last = activity(last, 'notifyOwner', [{ account: from, transfer: facts.transferId }], { delivered: true });
  event('WORKFLOW_EXECUTION_COMPLETED', 'workflowExecutionCompletedEventAttributes', {
    result: payloads({ id: facts.transferId, from, to, amount, risk: facts.risk, balance: facts.balance }),
    workflowTaskCompletedEventId: String(last),
  });
  return { events };
}

export function workflowIdOf(facts: TransferFacts): string {
  return `transfer-${facts.session}`;
}

export interface PeerReplay {
  histories: number;
  /** Wall time of Worker.runReplayHistories over all of them. */
  ms: number;
  /** CPU time of this process (every thread) meanwhile. */
  cpuMs: number;
  /** Replays that failed, by error class name. */
  failures: Record<string, number>;
  /** The first failure's message. */
  firstFailure: string | null;
  /** How many failed with DeterminismViolationError. */
  determinismViolations: number;
}

export interface TemporalPeer {
  version: string;
  bundleMs: number;
  bundleBytes: number;
  /** Convert JSON histories to Temporal's protobuf objects (not timed in replay()). */
  prepare(histories: { workflowId: string; history: unknown }[]): { workflowId: string; history: unknown }[];
  replay(prepared: { workflowId: string; history: unknown }[]): Promise<PeerReplay>;
}

let runtimeInstalled = false;

/** Bundle the workflows once; replays reuse the bundle. */
export async function createTemporalPeer(): Promise<TemporalPeer> {
  if (!runtimeInstalled) {
    // Core's own log lines (a nondeterminism WARN for the renamed-activity check) go through the same quiet logger.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: 'ERROR', forward: {} } } });
    runtimeInstalled = true;
  }
  const began = performance.now();
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(here, 'src', 'workflows.ts'), logger: new DefaultLogger('ERROR') });
  const bundleMs = performance.now() - began;
  const { createRequire } = await import('node:module');
  const version = (createRequire(import.meta.url)('@temporalio/worker/package.json') as { version: string }).version;
  return {
    version,
    bundleMs,
    bundleBytes: bundle.code.length,
    prepare: (histories) => histories.map((h) => ({ workflowId: h.workflowId, history: historyFromJSON(h.history) })),
    async replay(prepared) {
      const failures: Record<string, number> = {};
      let firstFailure: string | null = null;
      let determinismViolations = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let count = 0;
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: bundle, reuseV8Context: true, replayName: 'windback-bench' },
        prepared as Parameters<typeof Worker.runReplayHistories>[1],
      ) as AsyncIterable<ReplayResult>) {
        count++;
        if (result.error) {
          const name = result.error.constructor?.name ?? 'Error';
          failures[name] = (failures[name] ?? 0) + 1;
          firstFailure ??= `${result.workflowId}: ${name}: ${result.error.message}`;
          if (result.error instanceof DeterminismViolationError) determinismViolations++;
        }
      }
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      return { histories: count, ms, cpuMs: (cpu.user + cpu.system) / 1000, failures, firstFailure, determinismViolations };
    },
  };
}
