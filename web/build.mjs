// Bundle the page: web/src/main.js (and the Firebase JS SDK from node_modules) into web/dist/app.js,
// and copy index.html and styles.css beside it. No CDN: everything the browser loads is in web/dist.
// index.html names app.js and styles.css with ?v=<content hash>, so Firebase Hosting can serve them
// as immutable (firebase.json) while index.html itself is always revalidated.
//   node web/build.mjs          (npm run build:web)
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, "src");
const dist = join(web, "dist");
// The local cloud's debugging page: built beside dist, never in it, so Hosting never serves it.
const local = join(web, "dist-local");

await rm(dist, { recursive: true, force: true });
await rm(local, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await mkdir(local, { recursive: true });
const bundle = (entry, outfile) => build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
await bundle(join(src, "main.js"), join(dist, "app.js"));
await bundle(join(web, "local", "debug.js"), join(local, "debug.js"));
await copyFile(join(web, "local", "debug.html"), join(local, "debug.html"));
await copyFile(join(src, "styles.css"), join(dist, "styles.css"));

async function version(name) {
  const hash = createHash("sha256").update(await readFile(join(dist, name)));
  return `/${name}?v=${hash.digest("hex").slice(0, 16)}`;
}

let html = await readFile(join(src, "index.html"), "utf8");
for (const name of ["app.js", "styles.css"]) {
  const plain = `"/${name}"`;
  if (!html.includes(plain)) throw new Error(`index.html does not reference ${plain}`);
  html = html.replace(plain, `"${await version(name)}"`);
}
await writeFile(join(dist, "index.html"), html);
console.log(`web: built ${dist} (and the local cloud's debug page in ${local})`);
