// The BullMQ contender of the docket benchmark. The Go program (../main.go)
// runs it once per measurement, with the Redis it started, and reads the one
// JSON object it prints on stdout. Usage:
//
//   node bullmq.mjs throughput '{"port":6379,"n":100000,"concurrency":50,"batch":1000,"producers":1,"warmup":5000}'
//   node bullmq.mjs latency    '{"port":6379,"count":2000,"concurrency":50,"spreadFromMs":1000,"spreadToMs":3000,"loadRate":0}'
//
// Every measurement starts with a warm-up on a queue of its own (not timed),
// then FLUSHALL, so that the JIT and the connections are warm and Redis holds
// only what is measured.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Worker as WorkerThread, isMainThread, parentPort, workerData } from 'node:worker_threads';

const [mode, rawConfig] = process.argv.slice(2);
const cfg = isMainThread ? JSON.parse(rawConfig ?? '{}') : workerData;
const connection = { host: '127.0.0.1', port: cfg.port, maxRetriesPerRequest: null };
// The peer's fastest legitimate configuration: completed jobs are removed
// (BullMQ keeps them by default), as asynq does by default.
const workerOptions = (concurrency) => ({
  connection,
  concurrency,
  autorun: false,
  removeOnComplete: { count: 0 },
  removeOnFail: { count: 1000 },
});

const admin = isMainThread ? new IORedis(connection) : null;

async function info(section) {
  const text = await admin.info(section);
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function usedMemory() {
  return Number((await info('memory')).used_memory);
}

async function redisCPU() {
  const c = await info('cpu');
  return Number(c.used_cpu_user) + Number(c.used_cpu_sys);
}

function clientCPU() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// wallMs is the wall clock in milliseconds, with sub-millisecond resolution.
const wallMs = () => performance.timeOrigin + performance.now();

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

// enqueue adds n jobs with addBulk, in batches, from `producers` concurrent
// callers.
async function enqueue(queue, n, batch, producers, first = 0) {
  let next = 0;
  async function producer() {
    while (next < n) {
      const start = next;
      const end = Math.min(n, start + batch);
      next = end;
      const jobs = [];
      for (let i = start; i < end; i++) jobs.push({ name: 'noop', data: { i: first + i } });
      await queue.addBulk(jobs);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, producers) }, producer));
}

// process runs one Worker until it has run n jobs, and returns its elapsed
// seconds.
async function processAll(name, n, concurrency) {
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  const worker = new Worker(name, async () => {
    done++;
    if (done === n) finish(process.hrtime.bigint());
  }, workerOptions(concurrency));
  await worker.waitUntilReady();
  const t0 = process.hrtime.bigint();
  const running = worker.run();
  const t1 = await finished;
  await worker.close();
  await running;
  return { seconds: Number(t1 - t0) / 1e9, ran: done };
}

async function throughput() {
  const { n, concurrency, batch, producers, warmup } = cfg;
  if (warmup > 0) {
    const q = new Queue('warmup', { connection });
    await enqueue(q, warmup, batch, producers);
    await processAll('warmup', warmup, concurrency);
    await q.close();
  }
  await admin.flushall();

  const queue = new Queue('bench', { connection });
  await queue.waitUntilReady();
  const mem0 = await usedMemory();
  let rcpu = await redisCPU();
  let ccpu = clientCPU();
  let t0 = process.hrtime.bigint();
  await enqueue(queue, n, batch, producers);
  const enqueueSeconds = seconds(t0);
  const enqueueRedisCPU = (await redisCPU()) - rcpu;
  const enqueueClientCPU = clientCPU() - ccpu;
  const mem1 = await usedMemory();
  const waiting = await queue.getWaitingCount();

  rcpu = await redisCPU();
  ccpu = clientCPU();
  const p = await processAll('bench', n, concurrency);
  const processRedisCPU = (await redisCPU()) - rcpu;
  const processClientCPU = clientCPU() - ccpu;
  await queue.close();
  const mem2 = await usedMemory();
  return {
    enqueueSeconds, processSeconds: p.seconds, ran: p.ran, queued: waiting,
    memBefore: mem0, memAfter: mem1, memFinal: mem2,
    enqueueRedisCPU, processRedisCPU, enqueueClientCPU, processClientCPU,
  };
}

// latency schedules count jobs due at instants spread evenly over
// [spreadFromMs, spreadToMs) from now, optionally while no-op jobs are added
// at loadRate per second, and reports each job's lateness: the instant its
// processor started minus the instant BullMQ made it due (the add's
// timestamp plus its delay). The jobs are added by a producer thread of
// their own (see producer), so that adding does not take the event loop
// from the Worker: node is single-threaded, where the Go contenders' producers
// run in parallel with their workers.
async function latency() {
  const { count, concurrency, warmup } = cfg;
  if (warmup > 0) {
    const q = new Queue('warmup', { connection });
    await enqueue(q, warmup, 1000, 1);
    await processAll('warmup', warmup, concurrency);
    await q.close();
  }
  await admin.flushall();

  const lateness = [];
  let timedDone = 0;
  let loadDone = 0;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  const worker = new Worker('bench', async (job) => {
    if (job.name === 'timed') {
      lateness.push(wallMs() - (job.timestamp + job.opts.delay));
      if (++timedDone === count) finish();
    } else {
      loadDone++;
    }
  }, workerOptions(concurrency));
  await worker.waitUntilReady();
  const running = worker.run();

  const thread = new WorkerThread(new URL(import.meta.url), { workerData: cfg });
  const messages = [];
  let wake = null;
  thread.on('message', (m) => { messages.push(m); if (wake) wake(); });
  thread.on('error', (e) => { messages.push({ type: 'error', error: String(e) }); if (wake) wake(); });
  const next = async () => {
    while (messages.length === 0) await new Promise((r) => { wake = r; });
    const m = messages.shift();
    if (m.type === 'error') throw new Error(`producer thread: ${m.error}`);
    return m;
  };
  const { scheduledWithinMs } = await next();
  const timeout = setTimeout(() => finish(), cfg.spreadToMs + 20000);
  await finished;
  clearTimeout(timeout);
  thread.postMessage('stop');
  const { loadAdded, loadSeconds } = await next();
  await thread.terminate();
  await worker.close(true);
  await running;
  return { lateness, count, ran: timedDone, loadAdded, loadDone, loadSeconds, scheduledWithinMs };
}

// producer is the latency measurement's producer thread: it adds no-op jobs
// at loadRate per second, in a batch every 10 ms, and, once the Worker has
// run alone or with the load for settleMs, the timed jobs.
async function producer({ port, count, spreadFromMs, spreadToMs, loadRate, settleMs }) {
  const queue = new Queue('bench', { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null } });
  await queue.waitUntilReady();
  let loadAdded = 0;
  let loadBusy = null;
  let loadTimer = null;
  const loadStart = Date.now();
  if (loadRate > 0) {
    loadTimer = setInterval(() => {
      if (loadBusy) return;
      const want = Math.floor(loadRate * (Date.now() - loadStart) / 1000) - loadAdded;
      if (want <= 0) return;
      const jobs = [];
      for (let i = 0; i < want; i++) jobs.push({ name: 'noop', data: { i: loadAdded + i } });
      loadAdded += want;
      loadBusy = queue.addBulk(jobs).finally(() => { loadBusy = null; });
    }, 10);
  }
  await new Promise((r) => setTimeout(r, settleMs));

  // Each delay is computed just before its addBulk call, from the intended
  // instant; the lateness is measured against BullMQ's own due instant.
  const base = Date.now();
  for (let i = 0; i < count; i += 500) {
    const now = Date.now();
    const jobs = [];
    for (let j = i; j < Math.min(count, i + 500); j++) {
      const due = base + spreadFromMs + (spreadToMs - spreadFromMs) * j / count;
      jobs.push({ name: 'timed', data: { due }, opts: { delay: Math.max(0, Math.round(due - now)) } });
    }
    await queue.addBulk(jobs);
  }
  parentPort.postMessage({ type: 'scheduled', scheduledWithinMs: Date.now() - base });

  await new Promise((resolve) => parentPort.once('message', resolve));
  if (loadTimer) clearInterval(loadTimer);
  if (loadBusy) await loadBusy;
  const loadSeconds = (Date.now() - loadStart) / 1000;
  await queue.close();
  parentPort.postMessage({ type: 'stopped', loadAdded, loadSeconds });
}

if (!isMainThread) {
  await producer(workerData);
} else {
  let result;
  try {
    if (mode === 'throughput') result = await throughput();
    else if (mode === 'latency') result = await latency();
    else throw new Error(`unknown mode ${mode}`);
  } finally {
    await admin.quit();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}
