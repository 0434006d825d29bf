import { TEXT_MAX_CHARS } from './sender';

/**
 * Splits a reply too long for one WhatsApp text message into parts of at most `maxChars` UTF-16
 * code units each (Meta counts 4,096 characters; code units are never fewer, so this is safe).
 *
 * Each cut is made at the most natural place the part allows: a blank line between paragraphs,
 * else a line break, else the end of a sentence (. ! ? … before whitespace), else any whitespace,
 * and only for a single word longer than a whole part, mid-word; even then never inside a
 * character (a surrogate pair) and, where possible, not inside an emoji sequence or a flag.
 * A natural break is only taken when it leaves the part at least half full, so that a stray
 * early break does not turn one long paragraph into a tiny message plus the rest.
 *
 * Parts are trimmed and empty parts dropped, so joining them with the whitespace they lost gives
 * back the text. A text within the limit comes back as one part, only trimmed.
 */
export function splitText(text: string, maxChars = TEXT_MAX_CHARS): string[] {
  if (!Number.isInteger(maxChars) || maxChars < 2) {
    // Two code units are the least that holds any character.
    throw new RangeError(`maxChars must be an integer of at least 2, got ${maxChars}`);
  }
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > maxChars) {
    const cut = cutPoint(rest, maxChars);
    const part = rest.slice(0, cut).trimEnd();
    if (part) parts.push(part);
    rest = rest.slice(cut).trimStart();
  }
  if (rest) parts.push(rest);
  return parts;
}

/**
 * Where a break may fall, best first. Each gives, for one match, the cut: the index where the
 * part ends (what follows the cut, whitespace, is trimmed off the next part).
 */
const BREAKS: readonly { pattern: RegExp; cutAt: (match: RegExpExecArray) => number }[] = [
  // A blank line (possibly holding spaces) between paragraphs.
  { pattern: /\n[^\S\n]*\n/g, cutAt: (m) => m.index },
  { pattern: /\n/g, cutAt: (m) => m.index },
  // Sentence punctuation, with any closing quotes or brackets, followed by whitespace.
  { pattern: /[.!?…]+["'”’)\]]*(?=\s)/g, cutAt: (m) => m.index + m[0].length },
  { pattern: /\s/g, cutAt: (m) => m.index },
];

/** Where to end the next part of `text` (longer than `maxChars`): a cut in 1..maxChars. */
function cutPoint(text: string, maxChars: number): number {
  // One code unit past the limit, so that whitespace right after a full part counts as a break.
  const window = text.slice(0, maxChars + 1);
  const halfFull = Math.ceil(maxChars / 2);
  for (const { pattern, cutAt } of BREAKS) {
    const cut = lastCut(window, pattern, cutAt, maxChars);
    if (cut >= halfFull) return cut;
  }
  // No good break: an early whitespace still beats cutting a word.
  const anyWhitespace = lastCut(window, /\s/g, (m) => m.index, maxChars);
  if (anyWhitespace > 0) return anyWhitespace;
  return hardCut(text, maxChars);
}

function lastCut(window: string, pattern: RegExp, cutAt: (match: RegExpExecArray) => number, maxChars: number): number {
  let best = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(window); match !== null; match = pattern.exec(window)) {
    const cut = cutAt(match);
    // The text starts with a non-space (it is trimmed), so any cut past 0 leaves a non-empty part.
    if (cut <= maxChars && cut > best) best = cut;
  }
  return best;
}

/**
 * A cut inside a word: at the last grapheme boundary within the limit (keeps 👍🏽, 👨‍👩‍👧 and flags
 * whole), else just before a surrogate pair it would split.
 */
function hardCut(text: string, maxChars: number): number {
  // Whether a boundary falls at maxChars depends on the whole character after it: two code units.
  const window = text.slice(0, maxChars + 2);
  let boundary = 0;
  for (const { index } of segmenter.segment(window)) {
    if (index > maxChars) break;
    boundary = index;
  }
  if (boundary > 0) return boundary;
  const splitsPair = isHighSurrogate(window.charCodeAt(maxChars - 1)) && isLowSurrogate(window.charCodeAt(maxChars));
  return splitsPair ? maxChars - 1 : maxChars;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
