import { describe, expect, it } from '@jest/globals';
import { LocalEngine } from './local-engine';

const engine = new LocalEngine();
const ask = async (text: string, name: string | null = 'Maria Silva') =>
  (await engine.reply({ contact: { name, waId: '1' }, messages: [{ type: 'text', text }], history: [] })).replies[0]!
    .body;

describe('local engine', () => {
  it('greets in Portuguese by first name and asks how to help', async () => {
    expect(await ask('Olá, bom dia!')).toBe('Olá, Maria! Sou o assistente virtual. Como posso ajudar você hoje?');
  });

  it('greets in English', async () => {
    expect(await ask('hello there', 'John')).toMatch(/^Hello, John! .*How can I help/);
  });

  it('answers the same input the same way', async () => {
    expect(await ask('quanto custa o SUV?')).toBe(await ask('quanto custa o SUV?'));
  });

  it('recognises a price question, thanks, goodbye and a request for a person', async () => {
    expect(await ask('qual o preço?')).toMatch(/preços/);
    expect(await ask('how much is it?')).toMatch(/prices/);
    expect(await ask('muito obrigada')).toMatch(/Por nada/);
    expect(await ask('tchau')).toMatch(/Até logo/);
    expect(await ask('quero falar com um atendente')).toMatch(/pessoa da equipe/);
    expect(await ask('can I talk to a human?')).toMatch(/someone from the team/);
  });

  it('never answers with silence: media without text and unknown text get a helpful reply', async () => {
    expect(
      (
        await engine.reply({
          contact: { name: null, waId: '1' },
          messages: [{ type: 'image', text: null }],
          history: [],
        })
      ).replies[0]!.body,
    ).toMatch(/arquivo/);
    expect(await ask('asdf qwerty')).toMatch(/tell me a bit more/);
  });
});
