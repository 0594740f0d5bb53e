#!/usr/bin/env node
// Builds web/static/vendor/bpmn-modeler/ from src/: bpmn-modeler.js (IIFE, global RegelingModeler),
// bpmn-modeler.css and the BPMN icon font as files (the site's CSP allows fonts from 'self', not data: URLs).
// Run: cd tools/bpmn-build && npm ci && npm run build   (or `make bundle` from the repository root)
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const outdir = fileURLToPath(new URL('../../web/static/vendor/bpmn-modeler/', import.meta.url));
const banner = '/*! bpmn-js (c) Camunda Services GmbH, bpmn.io license (see LICENSE.bpmn-js): the bpmn.io watermark must stay visible. '
  + 'bpmn-js-properties-panel, @bpmn-io/properties-panel, diagram-js: MIT. Built by tools/bpmn-build. */';

// The icon font's CSS also names .eot and .svg variants no browser we support needs; keep woff2/woff/ttf only.
const modernFontsOnly = {
  name: 'modern-fonts-only',
  setup(context) {
    context.onLoad({ filter: /bpmn-font[\\/]css[\\/]bpmn\.css$/ }, async (args) => {
      const css = (await readFile(args.path, 'utf8'))
        .replace(/^\s*src: url\('[^']*\.eot[^']*'\);\n/m, '')
        .replace(/url\('[^']*\.eot[^']*'\) format\('embedded-opentype'\),\s*/, '')
        .replace(/,\s*url\('[^']*\.svg[^']*'\) format\('svg'\)/, '');
      return { contents: css, loader: 'css' };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: { 'bpmn-modeler': `${here}src/index.js` },
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'RegelingModeler',
  target: 'es2020',
  outdir,
  assetNames: '[name]',
  loader: { '.woff2': 'file', '.woff': 'file', '.ttf': 'file' },
  plugins: [ modernFontsOnly ],
  banner: { js: banner, css: banner },
  legalComments: 'eof',
  logLevel: 'info',
});
await copyFile(`${here}node_modules/bpmn-js/LICENSE`, `${outdir}LICENSE.bpmn-js`);
await copyFile(`${here}node_modules/bpmn-js-properties-panel/LICENSE`, `${outdir}LICENSE.bpmn-js-properties-panel`);
console.log((await readdir(outdir)).sort().join('\n'));
