// The reference GPT-2 encoder: `node tiktoken_encode.js TIKTOKEN_DIR FILE...` prints, for each
// FILE (read as UTF-8), its token ids on one line, space-separated, as computed by OpenAI's
// tokenizer: the npm package tiktoken@1.0.22 (TIKTOKEN_DIR: its unpacked folder), encoding
// `gpt2`, `encode(text, [], [])` (no special tokens: `<|endoftext|>` is plain text).
//
// `node tiktoken_encode.js TIKTOKEN_DIR --generate OUT` instead writes generated test text to
// OUT (see generated_text() below).
'use strict';
const fs = require('fs');
const path = require('path');
const [dir, ...args] = process.argv.slice(2);
if (!dir || args.length === 0) {
  console.error('usage: node tiktoken_encode.js TIKTOKEN_DIR FILE... | --generate OUT');
  process.exit(2);
}
const { get_encoding } = require(path.resolve(dir));

// Text that exercises every branch of the pre-tokeniser and every class of code point, each
// in the contexts where the regex's alternatives compete (after a space, after a letter,
// between runs of spaces, before a newline...). Deterministic: a fixed-seed generator.
//   - every Unicode White_Space character and JavaScript's extra \s (U+FEFF), and U+0085;
//   - every code point of the punctuation and symbol categories (P*, S*) and of the marks,
//     format and control characters below U+10000, and a sample of the rest;
//   - letters and digits of several scripts, emoji (with ZWJ and skin tones), contractions,
//     a byte order mark at the start, CRLF, runs of spaces before words;
//   - long runs of letters and of punctuation, each one pre-token of many merges.
function generated_text() {
  let seed = 12345;
  const rand = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = (xs) => xs[rand(xs.length)];
  const spaces = [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
    0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029,
    0x202f, 0x205f, 0x3000, 0xfeff, 0x180e, 0x200b].map((c) => String.fromCodePoint(c));
  // Punctuation, symbols, marks, format and control characters: all of the BMP's, one in 16
  // past it. Private use and unassigned (by node's Unicode): one in 64, one in 256 past it.
  const others = [];
  for (let cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    const bmp = cp < 0x10000;
    let every = 0;
    if (/[\p{P}\p{S}\p{M}\p{Cf}\p{Cc}]/u.test(c)) every = bmp ? 1 : 16;
    else if (/[\p{Co}\p{Cn}]/u.test(c)) every = bmp ? 64 : 256;
    if (every && cp % every === 0) others.push(c);
  }
  const words = ['whale', 'Ishmael', 'naïve', 'Ünïcödé', 'Ελληνικά', 'русский', 'עברית',
    'العربية', 'हिन्दी', 'தமிழ்', '日本語', 'のテキスト', '한국어', 'ไทย', 'ქართული', 'Ꭰ',
    '𐐀𐐨', '𝐀𝐁', 'ǅ', 'ʰ', 'ª'];
  const digits = ['1851', '3.14159', '١٢٣', '٤٥', '߀߁', '१२३', '৪', '໕', '༢', '၃', '០', '²',
    '½', 'Ⅻ', '⑳', '𝟘𝟙', '𒐀', '0x1F', '12345678901234'];
  const emoji = ['🐳', '🐋', '👍🏽', '👩‍👩‍👧', '❤️', '🇫🇷', '🏳️‍🌈', '1️⃣', '©', '🫠'];
  const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'x", "''"];
  const pieces = [];
  const piece = () => {
    switch (rand(9)) {
      case 0: return pick(words);
      case 1: return pick(digits);
      case 2: return pick(emoji);
      case 3: return pick(contractions);
      case 4: return pick(others);
      case 5: return pick(others) + pick(others);
      case 6: return ' '.repeat(1 + rand(4));
      case 7: return pick(spaces).repeat(1 + rand(3));
      default: return pick(['\r\n', '\n', '\n\n', ' \n', '\r\n\r\n', '\t', ',', '.', '",', '"']);
    }
  };
  // Each class member next to each of the main contexts once.
  for (const c of others.concat(spaces))
    pieces.push(c, ' ', c, 'a', c, c, '  ', c, '1', c, '\n', ' x', c, ' ', ' ', c, ' y');
  for (const s of spaces) for (const t of spaces) pieces.push('a', s, t, 'b', s, ' ', t, ' c');
  for (let i = 0; i < 40000; ++i) pieces.push(piece());
  // Long pre-tokens (many merges each): letters, a two-letter alphabet, punctuation.
  for (const alphabet of ['abcdefghij', 'aab', ',.";[]()']) {
    for (const n of [300, 3000]) {
      let run = ' ';
      for (let k = 0; k < n; ++k) run += alphabet[rand(alphabet.length)];
      pieces.push(run);
    }
  }
  return '\ufeffBOM at the start\r\n' + pieces.join('') + '\ufeff';
}

if (args[0] === '--generate') {
  fs.writeFileSync(args[1], generated_text());
  process.exit(0);
}
const enc = get_encoding('gpt2');
for (const file of args) {
  const bytes = fs.readFileSync(file);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    console.error(`tiktoken_encode.js: ${file} is not valid UTF-8 (the reference would see U+FFFD)`);
    process.exit(1);
  }
  const ids = enc.encode(text, [], []);
  process.stdout.write(Array.from(ids).join(' ') + '\n');
}
enc.free();
