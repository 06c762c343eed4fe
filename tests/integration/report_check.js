// Appended (inside a <script>) to a copy of a `locsweep report` page by report_chromium.sh:
// measures what Chromium actually rendered for every figure (size on the page, paths with a
// drawn length, embedded heatmap images that decode into pixels) and collects page errors,
// then writes the result as JSON into a pre element with id "locsweep-check", which
// --dump-dom carries out.
//
// Everything runs synchronously in the window's load handler: the SVG <image> elements delay
// the load event until their data is in, and --dump-dom serialises the DOM only after the
// load event, so the result is always there. (An async check raced the dump on a busy machine.)
const locsweepCheckErrors = [];
window.addEventListener('error', (e) => locsweepCheckErrors.push(String(e.message)));

// Draws an SVG <image> into a small canvas: a heatmap that decodes leaves opaque pixels.
function locsweepImageDecodes(image) {
  const canvas = document.createElement('canvas');
  canvas.width = 32;
  canvas.height = 32;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0, 32, 32);
  const pixels = context.getImageData(0, 0, 32, 32).data;
  for (let i = 3; i < pixels.length; i += 4) {
    if (pixels[i] > 0) return true;
  }
  return false;
}

function locsweepCheck() {
  const out = {errors: locsweepCheckErrors, figures: []};
  for (const figure of document.querySelectorAll('figure.plot')) {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const paths = svg ? [...svg.querySelectorAll('path')] : [];
    const images = svg ? [...svg.querySelectorAll('image')] : [];
    let decoded = 0;
    for (const image of images) {
      try {
        if (locsweepImageDecodes(image)) decoded++;
        else out.errors.push(`${figure.id}: heatmap image draws no pixels`);
      } catch (e) {
        out.errors.push(`${figure.id}: heatmap image does not decode: ${e}`);
      }
    }
    out.figures.push({
      id: figure.id,
      width: box.width,
      height: box.height,
      drawn_paths: paths.filter((p) => p.getTotalLength() > 0).length,
      images: images.length,
      decoded,
    });
  }
  const pre = document.createElement('pre');
  pre.id = 'locsweep-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}

if (document.readyState === 'complete') {
  locsweepCheck();
} else {
  window.addEventListener('load', locsweepCheck);
}
