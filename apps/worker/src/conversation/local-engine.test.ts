import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDb, seedCatalog, upsertCatalogItem, SAMPLE_CATALOG, type Db } from '@zapflow/db';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { catalogTools } from './catalog-tools';
import type { ConversationContext, EngineInput } from './engine';
import { LocalEngine } from './local-engine';

let database: TestDatabase;
let db: Db;
let engine: LocalEngine;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 4 });
  await seedCatalog(db);
  engine = new LocalEngine(catalogTools(db));
});
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

/** A conversation that already has messages: not a first contact. */
const EARLIER: EngineInput['history'] = [
  { direction: 'inbound', text: 'oi' },
  { direction: 'outbound', text: 'Olá! Como posso ajudar?' },
];

interface Options {
  name?: string | null;
  history?: EngineInput['history'];
  context?: ConversationContext;
}

const send = (
  messages: string | (string | null)[],
  { name = 'Maria Silva', history = [], context = {} }: Options = {},
) =>
  engine.reply({
    conversationId: '00000000-0000-4000-8000-000000000001',
    contact: { name, waId: '5511999990001' },
    messages: (Array.isArray(messages) ? messages : [messages]).map((text) =>
      text === null ? { type: 'image', text: null } : { type: 'text', text },
    ),
    history,
    context,
  });
const ask = async (messages: string | (string | null)[], options?: Options) =>
  (await send(messages, options)).replies[0]!.body;

describe('greeting', () => {
  it('greets by first name on first contact and says what it can do, in Portuguese', async () => {
    const reply = await send('oi');
    expect(reply.replies).toHaveLength(1);
    expect(reply.replies[0]!.body).toMatch(
      /^Olá, Maria! Sou o assistente virtual da loja .*test drive.*O que você procura\?$/,
    );
    expect(reply.context).toEqual({ language: 'pt', stage: 'greeting' });
  });

  it('greets in English', async () => {
    const reply = await send('hello there', { name: 'John Smith' });
    expect(reply.replies[0]!.body).toMatch(
      /^Hello, John! I'm the store's virtual assistant.*What are you looking for\?$/,
    );
    expect(reply.context).toMatchObject({ language: 'en' });
  });

  it('answers the greeting the contact used and "tudo bem?"', async () => {
    expect(await ask('boa tarde, tudo bem?')).toMatch(/^Boa tarde, Maria! Tudo ótimo por aqui!/);
    expect(await ask('good morning, how are you?', { name: 'John' })).toMatch(
      /^Good morning, John! All good here, thanks for asking!/,
    );
  });

  it('greets by name only on first contact', async () => {
    const body = await ask('oi', { history: EARLIER });
    expect(body).toBe('Olá! Que bom falar com você de novo. Em que posso ajudar hoje?');
    expect(body).not.toMatch(/Maria/);
  });

  it('welcomes a returning contact back to the car they were looking at', async () => {
    const body = await ask('oi', { history: EARLIER, context: { interests: ['COROLLA-XEI-2022'] } });
    expect(body).toMatch(/Ainda tem interesse no Toyota Corolla XEi 2.0/);
  });

  it('remembers the name the contact gives and prefers it to the profile name', async () => {
    const reply = await send('oi, meu nome é carla', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(/^Prazer, Carla!/);
    expect(reply.context).toMatchObject({ name: 'Carla' });
    expect(await ask('oi', { context: { name: 'Carla' } })).toMatch(/^Olá, Carla!/);
  });

  it('answers a contact checking someone is there', async () => {
    expect(await ask('alô? tem alguém aí?', { history: EARLIER })).toMatch(/^Estou aqui, sim!/);
  });
});

describe('catalog questions', () => {
  it('answers the price of a model from the catalog, in Portuguese, with its recent drop', async () => {
    const reply = await send('quanto custa o corolla?', { history: EARLIER });
    expect(reply.replies[0]!.body).toBe(
      'O Toyota Corolla XEi 2.0 2022 (38.000 km, automático) está por R$ 129.900. E baixou de preço: antes era R$ 134.900! Quer agendar um test drive ou saber mais alguma coisa?',
    );
    expect(reply.interests).toEqual(['COROLLA-XEI-2022']);
    expect(reply.context).toMatchObject({ stage: 'interested', interests: ['COROLLA-XEI-2022'], language: 'pt' });
  });

  it('answers the price of a model in English', async () => {
    expect(await ask('how much is the Corolla?', { history: EARLIER })).toBe(
      'The Toyota Corolla XEi 2.0 2022 (38,000 km, automatic) is R$129,900. Good news: it just dropped from R$134,900! Would you like to book a test drive or know more?',
    );
  });

  it('lists up to three options of a category, with name, year, km and price', async () => {
    const reply = await send('queria ver um SUV', { history: EARLIER });
    expect(reply.replies[0]!.body).toBe(
      [
        'Tenho estas opções pra você:',
        '• Jeep Renegade Sport 1.8 2021, 58.000 km — R$ 92.900',
        '• Nissan Kicks SV 1.6 2021, 47.000 km — R$ 99.900 (baixou de R$ 103.900)',
        '• Chevrolet Tracker LT 1.0 Turbo 2022, 36.000 km — R$ 114.900',
        'Quer saber mais de algum ou agendar um test drive?',
      ].join('\n'),
    );
    expect(reply.interests).toEqual(['RENEGADE-SPORT-2021', 'KICKS-SV-2021', 'TRACKER-LT-2022']);
    expect(reply.context).toMatchObject({ stage: 'browsing' });
  });

  it('understands a price ceiling in Portuguese', async () => {
    const reply = await send('tem SUV até 100 mil?', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(/^Nessa faixa de preço, tenho estas opções:\n/);
    expect(reply.interests).toEqual(['RENEGADE-SPORT-2021', 'KICKS-SV-2021']);
  });

  it('understands a price ceiling in English', async () => {
    const reply = await send('any automatic SUV under 100k?', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(
      /^In that price range, here's what I have:\n• Jeep Renegade Sport 1.8 2021, 58,000 km — R\$92,900\n/,
    );
    expect(reply.interests).toEqual(['RENEGADE-SPORT-2021', 'KICKS-SV-2021']);
  });

  it('understands a price floor', async () => {
    expect((await send('quero uma picape acima de 150 mil', { history: EARLIER })).interests).toEqual([
      'TORO-VOLCANO-2022',
      'HILUX-SRV-2021',
    ]);
  });

  it('says when it has nothing like what was asked and suggests the categories in stock', async () => {
    expect(await ask('vocês têm Ferrari?', { history: EARLIER })).toBe(
      'Poxa, não encontrei esse modelo no nosso estoque agora. Temos opções de hatch, picape, sedan e SUV. Quer que eu te mostre alguma?',
    );
    expect(await ask('do you have a Ferrari?', { history: EARLIER })).toBe(
      "Sorry, I couldn't find that model in our stock right now. We have hatch, pickup, sedan and SUV options. Want me to show you some?",
    );
  });

  it('offers the most affordable car when nothing fits the budget', async () => {
    expect(await ask('tem carro até 30 mil?', { history: EARLIER })).toBe(
      'Não encontrei nada nessa faixa de preço agora. O mais em conta que temos é o Hyundai HB20 Comfort 1.0 2021, por R$ 68.900. Temos opções de hatch, picape, sedan e SUV. Quer que eu te mostre alguma?',
    );
  });

  it('says when the closest options are not exactly what was asked', async () => {
    const reply = await send('tem corolla vermelho?', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(
      /^Não encontrei exatamente isso, mas tenho algo parecido:\n• Toyota Corolla/,
    );
  });

  it('shows each model when several are named', async () => {
    const reply = await send('hb20 ou onix?', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(/^Tenho estas opções pra você:\n• Hyundai HB20/);
    expect(reply.interests).toEqual(['HB20-COMFORT-2021', 'ONIX-LT-2022', 'ONIXPLUS-PREMIER-2023']);
  });

  it('describes the stock when asked what cars there are', async () => {
    expect(await ask('quais carros vocês têm?', { history: EARLIER })).toBe(
      'Temos opções de hatch, picape, sedan e SUV, a partir de R$ 68.900. Você procura algum modelo, tipo de carro ou faixa de preço?',
    );
    expect(await ask('what cars do you have?', { history: EARLIER })).toMatch(
      /^We have hatch, pickup, sedan and SUV options, starting at R\$68,900\./,
    );
  });

  it('answers "how much?" about the car the contact was last interested in', async () => {
    const reply = await send('e quanto custa?', { history: EARLIER, context: { interests: ['KICKS-SV-2021'] } });
    expect(reply.replies[0]!.body).toMatch(/^O Nissan Kicks SV 1.6 2021 .* está por R\$ 99.900\./);
  });

  it('asks which car when a price is asked and nothing was discussed yet', async () => {
    expect(await ask('qual o preço?', { history: EARLIER })).toMatch(/^Claro! De qual carro você quer saber o preço\?/);
  });

  it('adds the items shown to the interests remembered, most recent last', async () => {
    const reply = await send('e o civic?', { history: EARLIER, context: { interests: ['HB20-COMFORT-2021'] } });
    expect(reply.context?.interests).toEqual(['HB20-COMFORT-2021', 'CIVIC-EXL-2020']);
  });

  it('quotes the price in the catalog now: a price change changes the answer', async () => {
    const civic = SAMPLE_CATALOG.find((i) => i.sku === 'CIVIC-EXL-2020')!;
    expect(await ask('quanto está o Civic?', { history: EARLIER })).toMatch(/está por R\$ 112\.900\. Quer/);
    await upsertCatalogItem(db, { ...civic, price: 105_900 });
    expect(await ask('quanto está o Civic?', { history: EARLIER })).toMatch(
      /está por R\$ 105\.900\. E baixou de preço: antes era R\$ 112\.900!/,
    );
  });
});

describe('scheduling', () => {
  it('takes a test-drive request with day and time, in Portuguese', async () => {
    const reply = await send('quero fazer um test drive sábado de manhã', { history: EARLIER });
    expect(reply.replies[0]!.body).toBe(
      'Perfeito! Anotei seu pedido de test drive para sábado de manhã. Um consultor da loja vai confirmar com você por aqui em breve.',
    );
    expect(reply.context).toMatchObject({
      stage: 'scheduling',
      appointment: 'quero fazer um test drive sábado de manhã',
    });
    expect(reply.handoff).toBeUndefined();
  });

  it('takes a visit request in English', async () => {
    const reply = await send('can I visit tomorrow at 10?', { history: EARLIER });
    expect(reply.replies[0]!.body).toBe(
      "Perfect! I've noted your visit request for tomorrow at 10. Someone from our team will confirm it with you here shortly.",
    );
    expect(reply.context).toMatchObject({
      stage: 'scheduling',
      appointment: 'can I visit tomorrow at 10?',
      language: 'en',
    });
  });

  it('asks for the time when only the day was said', async () => {
    expect(await ask('posso passar aí amanhã?', { history: EARLIER })).toBe(
      'Ótimo! Anotei seu pedido de visita para amanhã. Qual horário fica melhor pra você? Um consultor da loja vai confirmar com você por aqui em breve.',
    );
  });

  it('asks for the day and time when neither was said', async () => {
    expect(await ask('dá pra agendar um test drive?', { history: EARLIER })).toMatch(
      /^Claro! Vamos agendar seu test drive\. Qual dia e horário ficam melhores pra você\?/,
    );
    expect(await ask('I want to book a test drive', { history: EARLIER })).toMatch(
      /^Sure! Let's book your test drive\. Which day and time work best for you\?/,
    );
  });

  it('names the car to test drive and counts it as an interest', async () => {
    const reply = await send('quero fazer test drive do Compass sexta às 10h', { history: EARLIER });
    expect(reply.replies[0]!.body).toMatch(
      /^Perfeito! Anotei seu pedido de test drive do Jeep Compass Longitude 1\.3 Turbo para sexta às 10h\./,
    );
    expect(reply.interests).toEqual(['COMPASS-LONGITUDE-2022']);
  });

  it('completes a request over several turns', async () => {
    const reply = await send('sábado às 10', {
      history: EARLIER,
      context: { stage: 'scheduling', appointment: 'quero agendar um test drive' },
    });
    expect(reply.replies[0]!.body).toMatch(/^Perfeito! Anotei seu pedido de test drive para sábado às 10\./);
    expect(reply.context).toMatchObject({ appointment: 'quero agendar um test drive — sábado às 10' });
  });
});

describe('asking for a person', () => {
  it.each([
    ['quero falar com um atendente', /^Claro! Vou chamar uma pessoa da nossa equipe/],
    ['can I talk to a human?', /^Sure! I'm bringing in someone from our team/],
  ])('hands over when asked: "%s"', async (text, answer) => {
    const reply = await send(text, { history: EARLIER });
    expect(reply.handoff).toEqual({ reason: 'contact_asked' });
    expect(reply.replies[0]!.body).toMatch(answer);
  });
});

describe('thanks and goodbye', () => {
  it.each([
    ['muito obrigada!', /^Por nada!/],
    ['thanks a lot', /^You're welcome!/],
    ['tchau', /^Até logo!/],
    ['ok, bye!', /^Goodbye!/],
    ['valeu, até mais!', /^Eu que agradeço! Até logo/],
  ])('answers "%s"', async (text, answer) => {
    expect(await ask(text, { history: EARLIER })).toMatch(answer);
  });

  it('reminds a contact who thanks after scheduling that a person will confirm', async () => {
    expect(await ask('obrigado', { history: EARLIER, context: { stage: 'scheduling' } })).toMatch(
      /Um consultor vai confirmar seu agendamento/,
    );
  });
});

describe('fallback', () => {
  it('offers what it can do when it does not understand', async () => {
    expect(await ask('asdf qwerty', { history: EARLIER })).toBe(
      'Desculpe, não entendi bem. Posso te ajudar com:\n• ver os carros disponíveis\n• consultar preços\n• agendar um test drive\n• falar com um atendente\nÉ só me dizer!',
    );
  });

  it('keeps the language of the conversation when the words do not tell', async () => {
    const reply = await send('asdf qwerty', { history: EARLIER, context: { language: 'en' } });
    expect(reply.replies[0]!.body).toMatch(/^Sorry, I didn't quite get that\. I can help you:/);
    expect(reply.context).toMatchObject({ language: 'en' });
  });

  it('switches language when the contact does', async () => {
    const reply = await send('how much is the corolla?', { history: EARLIER, context: { language: 'pt' } });
    expect(reply.context).toMatchObject({ language: 'en' });
  });

  it('answers media without text', async () => {
    expect(await ask([null], { history: EARLIER })).toMatch(/^Recebi seu arquivo, obrigado!/);
  });

  const burst = (types: string[], history: EngineInput['history'] = []) =>
    engine.reply({
      conversationId: '00000000-0000-4000-8000-000000000001',
      contact: { name: 'Maria Silva', waId: '5511999990001' },
      messages: types.map((type) => ({ type, text: null })),
      history,
      context: {},
    });

  it('greets someone who opened the chat for the first time (request_welcome)', async () => {
    const reply = await burst(['request_welcome']);
    expect(reply.replies[0]!.body).toMatch(/^Olá, Maria! Sou o assistente virtual da loja/);
  });

  it('asks for text when WhatsApp did not pass the message on (unsupported), not thanks for a file', async () => {
    expect((await burst(['unsupported'], EARLIER)).replies[0]!.body).toBe(
      'Não consegui abrir essa mensagem por aqui. Pode me escrever em texto o que você procura?',
    );
    expect((await burst(['unsupported', 'image'], EARLIER)).replies[0]!.body).toMatch(/^Recebi seu arquivo/);
  });
});

describe('bursts', () => {
  it('answers a greeting and a question sent as several messages in one reply', async () => {
    const reply = await send(['oi', 'tudo bem?', 'queria ver um SUV']);
    expect(reply.replies).toHaveLength(1);
    expect(reply.replies[0]!.body).toMatch(
      /^Olá, Maria! Tudo ótimo por aqui! Tenho estas opções pra você:\n• Jeep Renegade/,
    );
    expect(reply.interests).toHaveLength(3);
  });

  it('puts a request for a person before anything else in the burst', async () => {
    const reply = await send(['bom dia', 'quanto custa o corolla?', 'prefiro falar com um vendedor']);
    expect(reply.handoff).toEqual({ reason: 'contact_asked' });
    expect(reply.replies[0]!.body).toMatch(/^Bom dia, Maria! Claro! Vou chamar uma pessoa/);
  });

  it('answers a burst ending in a test-drive request with the scheduling', async () => {
    const reply = await send(['boa noite', 'gostei do Kicks', 'dá pra fazer um test drive amanhã à tarde?'], {
      history: EARLIER,
    });
    expect(reply.replies[0]!.body).toMatch(
      /^Boa noite! Perfeito! Anotei seu pedido de test drive do Nissan Kicks SV 1\.6 para amanhã à tarde\./,
    );
    expect(reply.context).toMatchObject({ appointment: 'dá pra fazer um test drive amanhã à tarde?' });
  });
});

describe('determinism', () => {
  it('gives the same reply to the same messages and context', async () => {
    const options = { history: EARLIER, context: { interests: ['ONIX-LT-2022'], language: 'pt' as const } };
    const first = await send(['oi', 'tem hatch automático até 100 mil?'], options);
    expect(await send(['oi', 'tem hatch automático até 100 mil?'], options)).toEqual(first);
  });
});
