// sharp's attention crop (libvips smartcrop, VIPS_INTERESTING_ATTENTION) for
// bench/smartcrop.py. Usage: node smartcrop_sharp.mjs <scratch dir>, with sharp installed
// under <scratch dir>/node_modules; reads one JSON array of jobs {"path", "width",
// "height"} on stdin and writes one JSON array of answers, in the same order, on stdout:
// {"left", "top"} where the crop starts in the upright picture resized to cover
// width x height, and {"resizedWidth", "resizedHeight"} that picture's size.
import { createRequire } from "node:module";
import { join } from "node:path";
import { text } from "node:stream/consumers";

const [scratch] = process.argv.slice(2);
const sharp = createRequire(join(scratch, "node_modules", "/"))("sharp");
sharp.concurrency(1);
sharp.cache(false);

const jobs = JSON.parse(await text(process.stdin));
const answers = [];
for (const job of jobs) {
  const { info } = await sharp(job.path)
    .autoOrient()
    .resize({ width: job.width, height: job.height, fit: "cover", position: "attention" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // sharp reports the crop's offsets as libvips' image offsets: the negated left and top.
  answers.push({
    left: Math.abs(info.cropOffsetLeft ?? 0),
    top: Math.abs(info.cropOffsetTop ?? 0),
    attentionX: info.attentionX ?? null,
    attentionY: info.attentionY ?? null,
    width: info.width,
    height: info.height,
  });
}
process.stdout.write(JSON.stringify(answers) + "\n");
