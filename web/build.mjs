// Bundle the page: web/src/main.js (and the Firebase JS SDK from node_modules) into web/dist/app.js,
// and copy index.html and styles.css beside it. No CDN: everything the browser loads is in web/dist.
//   node web/build.mjs          (npm run build:web)
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, "src");
const dist = join(web, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(src, "main.js")],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
for (const name of ["index.html", "styles.css"]) {
  await copyFile(join(src, name), join(dist, name));
}
console.log(`web: built ${dist}`);
