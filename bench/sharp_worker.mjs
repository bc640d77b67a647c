// The sharp side of the benchmark: one node process answering JSON lines on stdin/stdout,
// like bench/imgedge_worker.py. Usage: node sharp_worker.mjs <scratch dir> <corpus dir>
// with sharp installed under <scratch dir>/node_modules. The cases arrive in one
// {"cmd": "setup", "cases": {...}} message (bench/cases.py writes them).
//
// One thread by default: sharp.concurrency(1) (libvips), and the parent sets
// UV_THREADPOOL_SIZE=1 and VIPS_CONCURRENCY=1; the setup message may name another count
// ({"concurrency": N}, with the parent's variables at N too). The libvips operation cache is off, as in sharp's own
// benchmark: repeating one operation on one buffer must not be answered from it.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [scratch, corpus] = process.argv.slice(2);
const sharp = createRequire(join(scratch, "node_modules", "/"))("sharp");
sharp.concurrency(1);
sharp.cache(false);

let cases = {};
const sources = {};

function pipeline(spec) {
  sources[spec.source] ??= readFileSync(join(corpus, spec.source));
  // Upright first (EXIF orientation), as imgedge always is; a no-op for unrotated photos.
  return sharp(sources[spec.source]).autoOrient().resize(spec.resize);
}

// Wall time of each operation, and the CPU time of the whole process (every thread).
async function run(spec, n) {
  const seconds = [];
  let bytes = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    const out = await pipeline(spec)[spec.format](spec.options).toBuffer();
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
    bytes = out.length;
  }
  const used = process.cpuUsage(cpu);
  return { seconds, cpu_seconds: (used.user + used.system) / 1e6, bytes };
}

async function outputs(spec) {
  const encoded = await pipeline(spec)[spec.format](spec.options).toBuffer();
  const { data, info } = await pipeline(spec).raw().toBuffer({ resolveWithObject: true });
  return {
    encoded: encoded.toString("base64"),
    raw: data.toString("base64"),
    width: info.width,
    height: info.height,
    channels: info.channels,
  };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const message = JSON.parse(line);
  let answer;
  if (message.cmd === "quit") break;
  if (message.cmd === "setup") {
    cases = message.cases;
    sharp.concurrency(message.concurrency ?? 1);
    answer = { versions: sharp.versions, concurrency: sharp.concurrency() };
  } else if (message.cmd === "run") {
    answer = await run(cases[message.case], message.n);
  } else {
    answer = await outputs(cases[message.case]);
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
