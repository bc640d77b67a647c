// A next/image loader for imgedge (next.config.js: images.loader "custom", images.loaderFile
// pointing here). For what next/image passes, {src, width, quality}, it writes the query
// imgedge's image_url writes (shared/urls.py): s=<width>x&f=auto[&q=<quality>], in that
// order, the format chosen per viewer from Accept. src is the original's key as stored,
// not percent-encoded, with or without a leading "/"; the path is encoded as imgedge's
// uri_of encodes it. The width and quality are not snapped here: the edge snaps them to its
// allow-lists, so a width off imgedge's `sizes` (or a quality off its `qualities`) is a
// second URL for the stored object. Give next's deviceSizes, imageSizes and qualities
// values from imgedge's lists and every URL is the canonical one.
// NEXT_PUBLIC_IMGEDGE_URL: the distribution's scheme and host ("" for the page's own).

const BASE = (process.env.NEXT_PUBLIC_IMGEDGE_URL ?? "").replace(/\/$/, "");
const KEPT = /[A-Za-z0-9_.\-/!$&'(),;=:@]/u; // all else is percent-encoded, UTF-8, upper-case

function uriOf(key) {
  let path = "/";
  for (const char of key) {
    path += KEPT.test(char)
      ? char
      : Array.from(new TextEncoder().encode(char), (byte) =>
          `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  }
  return path;
}

export default function imgedgeLoader({ src, width, quality }) {
  const key = src.startsWith("/") ? src.slice(1) : src;
  const q = quality ? `&q=${quality}` : "";
  return `${BASE}${uriOf(key)}?s=${width}x&f=auto${q}`;
}
