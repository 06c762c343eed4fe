// Appended (inside a <script>) to a copy of a `locsweep report` page by report_chromium.sh:
// measures what Chromium actually rendered for every figure (size on the page, paths with a
// drawn length, embedded heatmap images that decode) and collects page errors, then writes
// the result as JSON into a pre element with id "locsweep-check", which --dump-dom carries out.
(async () => {
  const out = {errors: [], figures: []};
  window.addEventListener('error', (e) => out.errors.push(String(e.message)));
  for (const figure of document.querySelectorAll('figure.plot')) {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const paths = svg ? [...svg.querySelectorAll('path')] : [];
    const images = svg ? [...svg.querySelectorAll('image')] : [];
    let decoded = 0;
    for (const image of images) {
      const probe = new Image();
      probe.src = image.getAttribute('xlink:href') || image.getAttribute('href');
      try {
        await probe.decode();
        if (probe.naturalWidth > 0 && probe.naturalHeight > 0) decoded++;
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
})();
