import { describe, expect, it } from '@jest/globals';
import { describeContent, OutgoingContent } from './sender';

const row = (id: string) => ({ id, title: `Opção ${id}` });
const list = (sections: unknown[]) => ({
  type: 'interactive',
  interactive: { kind: 'list', body: 'Escolha', button: 'Opções', sections },
});

describe('OutgoingContent', () => {
  it('accepts a list of up to 10 rows in all, in titled sections', () => {
    const sections = [
      { title: 'A', rows: [1, 2, 3, 4, 5].map(String).map(row) },
      { title: 'B', rows: [6, 7, 8, 9, 10].map(String).map(row) },
    ];
    expect(OutgoingContent.safeParse(list(sections)).success).toBe(true);
    expect(OutgoingContent.safeParse(list([{ rows: [row('1')] }])).success).toBe(true);
  });

  it('refuses a list of more than 10 rows across its sections (Meta counts them together)', () => {
    const sections = [
      { title: 'A', rows: [1, 2, 3, 4, 5, 6].map(String).map(row) },
      { title: 'B', rows: [7, 8, 9, 10, 11].map(String).map(row) },
    ];
    expect(OutgoingContent.safeParse(list(sections)).error?.issues[0]?.message).toMatch(/at most 10 rows/);
  });

  it('refuses an untitled section in a list of several', () => {
    const sections = [{ title: 'A', rows: [row('1')] }, { rows: [row('2')] }];
    expect(OutgoingContent.safeParse(list(sections)).error?.issues[0]?.message).toMatch(/needs a title/);
  });

  it('refuses media with both or neither of id and link', () => {
    expect(OutgoingContent.safeParse({ type: 'image', media: {} }).success).toBe(false);
    expect(
      OutgoingContent.safeParse({ type: 'image', media: { id: '1', link: 'https://cdn.example.com/a.jpg' } }).success,
    ).toBe(false);
  });
});

describe('describeContent', () => {
  it('renders every kind of content as one readable line', () => {
    expect(describeContent({ type: 'text', text: 'Oi!' })).toBe('Oi!');
    expect(describeContent({ type: 'template', template: { name: 'pedido_enviado', language: 'pt_BR' } })).toBe(
      '[template pedido_enviado (pt_BR)]',
    );
    expect(
      describeContent({
        type: 'interactive',
        interactive: { kind: 'buttons', body: 'Confirma?', buttons: [{ id: 'y', title: 'Sim' }] },
      }),
    ).toBe('Confirma?');
    expect(
      describeContent({ type: 'image', media: { link: 'https://cdn.example.com/a.jpg', caption: 'Vitrine' } }),
    ).toBe('Vitrine');
    expect(describeContent({ type: 'audio', media: { id: '998877' } })).toBe('[audio 998877]');
  });
});
