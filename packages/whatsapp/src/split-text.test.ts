import { describe, expect, it } from '@jest/globals';
import { seededRandom } from '@zapflow/testkit';
import { TEXT_MAX_CHARS } from './sender';
import { splitText } from './split-text';

/** True when the parts, in order, make up `original` with only whitespace left out between them. */
function reassembles(original: string, parts: string[]): boolean {
  let position = 0;
  const skipWhitespace = () => {
    while (position < original.length && /\s/.test(original[position]!)) position++;
  };
  for (const part of parts) {
    skipWhitespace();
    if (!original.startsWith(part, position)) return false;
    position += part.length;
  }
  skipWhitespace();
  return position === original.length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('splitText', () => {
  it('returns a text within the limit as one part, only trimmed', () => {
    expect(splitText('Oi! Tudo bem?')).toEqual(['Oi! Tudo bem?']);
    expect(splitText('  \n Olá\n\nMundo  \n')).toEqual(['Olá\n\nMundo']);
    const exactlyFull = 'x'.repeat(TEXT_MAX_CHARS);
    expect(splitText(exactlyFull)).toEqual([exactlyFull]);
  });

  it('returns no parts for an empty or blank text', () => {
    expect(splitText('')).toEqual([]);
    expect(splitText(' \n\t ')).toEqual([]);
  });

  it('cuts at a paragraph break before a line break or a sentence end', () => {
    const text = 'Primeiro parágrafo. Segue.\nOutra linha.\n\nSegundo parágrafo aqui.';
    expect(splitText(text, 45)).toEqual(['Primeiro parágrafo. Segue.\nOutra linha.', 'Segundo parágrafo aqui.']);
  });

  it('treats a line holding only spaces as a paragraph break', () => {
    expect(splitText('Um parágrafo inteiro.\n   \nDois parágrafos.', 30)).toEqual([
      'Um parágrafo inteiro.',
      'Dois parágrafos.',
    ]);
  });

  it('cuts at a line break when there is no paragraph break', () => {
    expect(splitText('Item um da lista. Ok.\nItem dois da lista.', 30)).toEqual([
      'Item um da lista. Ok.',
      'Item dois da lista.',
    ]);
  });

  it('cuts after the end of a sentence when there is no line break', () => {
    expect(splitText('Claro, temos sim, com certeza. O horário é das 9h às 18h.', 40)).toEqual([
      'Claro, temos sim, com certeza.',
      'O horário é das 9h às 18h.',
    ]);
  });

  it('keeps closing quotes and brackets with the sentence they end', () => {
    expect(splitText('Ele disse "pode ser amanhã!" e depois saiu correndo.', 30)).toEqual([
      'Ele disse "pode ser amanhã!"',
      'e depois saiu correndo.',
    ]);
    expect(splitText('Ligue antes (horário comercial.) Depois venha.', 34)[0]).toBe('Ligue antes (horário comercial.)');
  });

  it('recognises ! ? and … as sentence ends, but not punctuation inside a word', () => {
    expect(splitText('Que ótimo! Vamos lá então', 16)).toEqual(['Que ótimo!', 'Vamos lá então']);
    expect(splitText('Será que dá? Acho que sim', 16)).toEqual(['Será que dá?', 'Acho que sim']);
    expect(splitText('Pensando… Já volto aqui', 14)).toEqual(['Pensando…', 'Já volto aqui']);
    // "3.5" is not a sentence end: the cut falls at whitespace instead.
    expect(splitText('Custa R$3.50 cada unidade', 13)).toEqual(['Custa R$3.50', 'cada unidade']);
  });

  it('cuts at whitespace when there is no sentence end', () => {
    expect(splitText('uma frase longa sem pontuação nenhuma no meio', 20)).toEqual([
      'uma frase longa sem',
      'pontuação nenhuma no',
      'meio',
    ]);
  });

  it('ignores a natural break that would leave the part less than half full', () => {
    // The only line break is at 3: taking it would send "Oi." alone; a sentence end comes later.
    const text = 'Oi.\nQuero saber o preço do produto. E também o prazo de entrega, por favor.';
    expect(splitText(text, 50)).toEqual([
      'Oi.\nQuero saber o preço do produto.',
      'E também o prazo de entrega, por favor.',
    ]);
  });

  it('prefers an early whitespace to cutting a word', () => {
    expect(splitText(`ver ${'x'.repeat(30)}`, 20)).toEqual(['ver', 'x'.repeat(20), 'x'.repeat(10)]);
  });

  it('cuts a word longer than a part mid-word, at the limit', () => {
    const url = `https://example.com/${'a'.repeat(50)}`;
    const parts = splitText(url, 25);
    expect(parts).toEqual([url.slice(0, 25), url.slice(25, 50), url.slice(50)]);
  });

  it('never splits a surrogate pair', () => {
    // 'a' then emoji: a cut at 4 would fall between the two halves of the second 😀.
    expect(splitText('a😀😀😀', 4)).toEqual(['a😀', '😀😀']);
    expect(splitText('😀'.repeat(5), 3)).toEqual(['😀', '😀', '😀', '😀', '😀']);
  });

  it('keeps emoji sequences and flags whole when cutting mid-word', () => {
    const family = '👨‍👩‍👧'; // 8 code units joined by zero-width joiners
    expect(splitText(`ab${family}${family}`, 12)).toEqual([`ab${family}`, family]);
    const flags = '🇧🇷🇵🇹🇧🇷'; // three flags of 4 code units each
    expect(splitText(flags, 6)).toEqual(['🇧🇷', '🇵🇹', '🇧🇷']);
    const thumbs = '👍🏽'; // emoji + skin tone modifier
    expect(splitText(`x${thumbs}${thumbs}`, 6)).toEqual([`x${thumbs}`, thumbs]);
  });

  it('splits a realistic long reply into parts under the limit at paragraph breaks', () => {
    const paragraph = (n: number) =>
      `Parágrafo ${n}: ${'O pedido foi separado e segue para entrega ainda hoje. '.repeat(12).trim()}`;
    const text = Array.from({ length: 12 }, (_, i) => paragraph(i + 1)).join('\n\n');
    const parts = splitText(text);

    expect(text.length).toBeGreaterThan(TEXT_MAX_CHARS);
    expect(parts.length).toBe(2);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(TEXT_MAX_CHARS);
      expect(part.endsWith('hoje.')).toBe(true);
    }
    expect(parts.join('\n\n')).toBe(text);
  });

  it('refuses a limit that cannot hold every character', () => {
    expect(() => splitText('abc', 1)).toThrow(RangeError);
    expect(() => splitText('abc', 2.5)).toThrow(RangeError);
  });

  it('holds its guarantees for random texts (property)', () => {
    const random = seededRandom(2024);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const words = ['oi', 'pedido', 'entrega', 'amanhã', 'R$3.50', 'ação', 'https://x.y/z?a=1', 'ok', 'sim', 'não'];
    const emoji = ['😀', '👍🏽', '👨‍👩‍👧', '🇧🇷', '❤️', '…', '🙏'];
    const separators = [' ', ' ', ' ', ' ', '  ', '\n', '\n\n', '\n \n', '\t', '. ', '! ', '? ', '… ', '." '];
    const token = (): string => {
      const roll = random();
      if (roll < 0.6) return pick(words);
      if (roll < 0.85) return pick(emoji);
      // Now and then a token longer than a part, to force mid-word cuts.
      return Array.from({ length: 5 + Math.floor(random() * 120) }, () => pick([...words, ...emoji])).join('');
    };

    for (let round = 0; round < 400; round++) {
      const maxChars = 8 + Math.floor(random() * 120);
      const length = Math.floor(random() * 60);
      const text =
        pick(['', ' ', '\n']) +
        Array.from({ length }, () => token() + pick(separators)).join('') +
        pick(['', ' ', '\n\n']);
      const parts = splitText(text, maxChars);

      // One assertion per round (not per part) keeps a failure readable and the run fast.
      const bad = parts.filter(
        (part) => part.length > maxChars || part === '' || part !== part.trim() || LONE_SURROGATE.test(part),
      );
      expect({ maxChars, bad }).toEqual({ maxChars, bad: [] });
      expect(reassembles(text, parts)).toBe(true);
      if (text.trim().length <= maxChars) expect(parts).toEqual(text.trim() ? [text.trim()] : []);
    }
  });
});
