// The portrait a PNG card gets when its character has no image of its own: a plain head-and-shoulders
// silhouette, drawn here rather than shipped as a file so the plugin needs no asset for it. Card tools
// show the PNG as the character's avatar, so it has to be a real image of a usual avatar size.

import { deflateSync } from "node:zlib";
import encodeChunks from "png-chunks-encode";

export const DEFAULT_PORTRAIT_SIZE = 256;

let cached: Uint8Array | undefined;

/** A 256×256 RGB PNG of a grey silhouette on a blue-grey background (the same bytes every call). */
export function defaultPortraitPng(): Uint8Array {
  if (cached) return cached;
  const size = DEFAULT_PORTRAIT_SIZE;
  const stride = 1 + size * 3; // filter byte + RGB
  const raw = new Uint8Array(stride * size);
  for (let y = 0; y < size; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const head = (x - size / 2) ** 2 + (y - size * 0.4) ** 2 <= (size * 0.19) ** 2;
      const shoulders = ((x - size / 2) / (size * 0.4)) ** 2 + ((y - size) / (size * 0.36)) ** 2 <= 1;
      const shade = Math.round(96 - (y / size) * 40); // a soft vertical gradient behind the figure
      const [r, g, b] = head || shoulders ? [196, 200, 208] : [shade, shade + 16, shade + 40];
      const at = y * stride + 1 + x * 3;
      raw[at] = r;
      raw[at + 1] = g;
      raw[at + 2] = b;
    }
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, size);
  view.setUint32(4, size);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per sample, truecolour, deflate, adaptive filtering, no interlace
  cached = encodeChunks([
    { name: "IHDR", data: header },
    { name: "IDAT", data: new Uint8Array(deflateSync(raw, { level: 9 })) },
    { name: "IEND", data: new Uint8Array(0) },
  ]);
  return cached;
}
