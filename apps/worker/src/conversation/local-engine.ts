import { countMatchedTerms, foldText, parseCatalogQuery, type CatalogQuery } from '@zapflow/db';
import type {
  CatalogItemView,
  ConversationContext,
  ConversationEngine,
  EngineInput,
  EngineReply,
  EngineTools,
} from './engine';

type Lang = 'pt' | 'en';

// Every pattern runs on folded text (lower case, no accents: "olá" and "ola" are the same), and
// folding keeps positions, so a match can be echoed from what the contact actually wrote.
const HUMAN = [
  /\b(atendente|humano|humana|vendedor|vendedora|consultor|consultora|gerente|human|representative|salesperson|sales rep|real person|live person|operator)\b/,
  /\b(falar|conversar|chamar|talk|speak|chat)\b[^.?!\n]{0,20}\b(pessoa|alguem|agente|person|someone|somebody|agent|manager)\b/,
];
const SCHEDULE =
  /\b(test[ -]?drive|agendar|agendamento|marcar (uma |um )?(visita|horario|test)|visita|visitar|passar (ai|na loja|la)|ir (ai|na loja|ate a loja|la)|conhecer a loja|ver (ele |ela |o carro )?pessoalmente|visit|appointment|schedule|book (a|an)|booking|come (by|in|over)|stop by|drop by|swing by|in person)\b/;
const TEST_DRIVE = /\btest[ -]?drive\b/;
const DAY =
  /\b(hoje|amanha|depois de amanha|(segunda|terca|quarta|quinta|sexta)([ -]feira)?|sabado|domingo|((no|neste|nesse) )?(fim|final) de semana|semana que vem|proxima semana|dia \d{1,2}(\/\d{1,2})?|\d{1,2}\/\d{1,2}|today|tomorrow|day after tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|((this|next) )?weekend|next week|on the \d{1,2}(st|nd|rd|th)?)\b/;
const TIME =
  /\b(de manha|pela manha|manha|a tarde|de tarde|pela tarde|fim da tarde|a noite|de noite|meio[ -]dia|(as|a partir das|at|around) \d{1,2}(:\d{2}|h\d{0,2}| ?(am|pm|horas?))?|\d{1,2}(:\d{2})? ?(am|pm)|\d{1,2}h\d{0,2}|\d{1,2}:\d{2}|\d{1,2} horas?|in the (morning|afternoon|evening)|morning|afternoon|evening|noon|lunchtime)\b/;
const CATALOG_CUE =
  /\b(precos?|valor(es)?|quanto|custa|custam|carros?|veiculos?|modelos?|estoque|opcao|opcoes|seminovos?|usados?|queria ver|quero ver|gostaria de ver|me mostra|mostra|mostrar|procuro|procurando|disponive(l|is)|suvs?|sedan|sedans|seda|sedas|hatch|hatches|hatchbacks?|picapes?|pickups?|caminhonetes?|automatico|automatica|automatic|manual|flex|diesel|4x4|prices?|pricing|costs?|how much|cars?|vehicles?|models?|stock|inventory|options|do you have|got any|looking for|show me|available|for sale|cheapest|mais barato|trucks?)\b/;
const YEAR = /\b(19[5-9]\d|20[0-3]\d)\b/;
const PRICE_CUE = /\b(precos?|valor(es)?|quanto|custa|custam|prices?|pricing|how much|costs?)\b/;
// "tem Ferrari?": a question about the catalog only when it names something.
const WEAK_CUE = /\b(tem|tens|have|has|got|any|what about|how about)\b|(^|\n)\s*e (o|a)\b/;
const THANKS = /\b(obrigad[oa]s?|brigad[oa]|valeu|vlw|agradeco|grat[oa]|thanks|thank you|thx|ty|cheers)\b/;
const BYE = /\b(tchau|ate logo|ate mais|ate breve|ate a proxima|falou|flw|bye|goodbye|see you|see ya|take care)\b/;
const GREETING =
  /\b(oi+|ola|alo|opa|e ai|eai|bom dia|boa tarde|boa noite|hi|hello|hey|good (morning|afternoon|evening)|howdy)\b/;
const HOW_ARE_YOU =
  /\b(tudo bem|tudo bom|tudo certo|como vai|como voce esta|how are you|how's it going|how are things)\b/;
const PRESENCE = /\b(alguem ai|tem alguem|ta ai|esta ai|anybody there|anyone there|are you there)\b/;
const INTRO = /\b(meu nome e|me chamo|pode me chamar de|aqui e (o|a)|my name is|call me)\s+([a-z][a-z'-]+)/;

// Words that tell the language apart (folded); words both languages use ("a", "no", "me") are out.
const PT_WORDS = new Set(
  `oi ola bom boa dia tarde noite tudo bem obrigado obrigada valeu quero queria gostaria preco precos quanto custa
  voce voces vc tem temos carro carros ate tchau favor sim nao um uma o os da das dos de que qual quais e eu meu minha
  amanha hoje sabado domingo segunda terca quarta quinta sexta manha hora horas visita ver atendente pessoa falar com
  para pra tambem mais algum alguma procuro estou sou nome chamo agendar marcar mil automatico`.split(/\s+/),
);
const EN_WORDS = new Set(
  `hi hello hey good morning afternoon evening thanks thank you your want would like price prices how much does is are
  the have has car cars under below over above tomorrow today saturday sunday monday tuesday wednesday thursday friday
  visit can could i talk speak human what which looking for any please bye goodbye yes show cost costs cheap with and an
  of it my name am there see some do at automatic book`.split(/\s+/),
);

function detectLanguage(text: string, previous: Lang | undefined): Lang {
  let pt = 0;
  let en = 0;
  for (const word of text.split(/[^a-z]+/)) {
    if (PT_WORDS.has(word)) pt++;
    if (EN_WORDS.has(word)) en++;
  }
  return pt > en ? 'pt' : en > pt ? 'en' : (previous ?? 'pt');
}

function firstName(name: string | null | undefined): string | undefined {
  const first = name
    ?.trim()
    .split(/\s+/)[0]
    ?.replace(/[^\p{L}'-]/gu, '');
  return first ? first : undefined;
}

function introducedName(original: string, text: string): string | undefined {
  const match = INTRO.exec(text);
  const word = match?.[3];
  if (!match || !word) return undefined;
  const start = match.index + match[0].length - word.length;
  const name = original.slice(start, start + word.length);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** All matches of a pattern in folded text, as written in the original. */
function spans(pattern: RegExp, text: string, original: string): string[] {
  return [...text.matchAll(new RegExp(pattern.source, 'g'))].map((m) => original.slice(m.index, m.index + m[0].length));
}

function money(value: number, currency: string, lang: Lang): string {
  const [whole = '0', cents] = Math.abs(value).toFixed(2).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, lang === 'pt' ? '.' : ',');
  const amount = cents && cents !== '00' ? `${grouped}${lang === 'pt' ? ',' : '.'}${cents}` : grouped;
  const symbol = currency === 'BRL' ? 'R$' : currency;
  return lang === 'pt' ? `${symbol} ${amount}` : currency === 'BRL' ? `${symbol}${amount}` : `${symbol} ${amount}`;
}

function number(value: number, lang: Lang): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, lang === 'pt' ? '.' : ',');
}

const TRANSMISSION_EN: Record<string, string> = { automatico: 'automatic', manual: 'manual' };
const CATEGORY_EN: Record<string, string> = { picape: 'pickup' };

/** "Toyota Corolla XEi 2.0 2022" and "38.000 km, automático". */
function describeItem(item: CatalogItemView, lang: Lang): { title: string; details: string[] } {
  const { year, km, transmission } = item.attributes;
  const title = typeof year === 'number' || typeof year === 'string' ? `${item.name} ${year}` : item.name;
  const details: string[] = [];
  if (typeof km === 'number') details.push(`${number(km, lang)} km`);
  if (typeof transmission === 'string') {
    details.push(lang === 'en' ? (TRANSMISSION_EN[foldText(transmission)] ?? transmission) : transmission);
  }
  return { title, details };
}

function listWords(words: string[], lang: Lang): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${lang === 'pt' ? 'e' : 'and'} ${words.at(-1)}`;
}

function categories(items: CatalogItemView[], lang: Lang): string {
  const names = [...new Set(items.map((i) => i.category).filter((c): c is string => !!c))]
    .sort((a, b) => (foldText(a) < foldText(b) ? -1 : 1))
    .map((c) => (lang === 'en' ? (CATEGORY_EN[foldText(c)] ?? c) : c));
  return listWords(names, lang);
}

interface Turn {
  input: EngineInput;
  context: ConversationContext;
  lang: Lang;
  /** The burst's texts, one per message. */
  texts: string[];
  /** The burst as written, and folded. */
  original: string;
  text: string;
  /** The burst without "meu nome é ..." (a name is not a car), as written and folded. */
  query: string;
  queryText: string;
  firstContact: boolean;
}

/** The answer to the burst's main intent, before the greeting that may open it. */
interface Answer {
  body: string;
  /** The body is itself a greeting: nothing to open it with. */
  greets?: boolean;
  stage?: string;
  shown?: CatalogItemView[];
  appointment?: string;
  handoff?: boolean;
}

/**
 * The built-in engine, used when no model is configured: a polite shop assistant of a car
 * dealer, in Portuguese or English, answering prices and stock from the catalog (through its
 * tools), taking test-drive requests and handing over to a person when asked. Deterministic: the
 * same messages and context give the same reply. A burst of messages is answered as one, by its
 * most specific intent: asking for a person, then scheduling, then the catalog, then thanks or
 * goodbye, then a greeting; anything else gets the list of what it can do.
 */
export class LocalEngine implements ConversationEngine {
  readonly name = 'local';

  constructor(private readonly tools: EngineTools) {}

  async reply(input: EngineInput): Promise<EngineReply> {
    const texts = input.messages.map((m) => m.text?.trim() ?? '').filter(Boolean);
    const original = texts.join('\n');
    const text = foldText(original);
    const context = input.context ?? {};
    const lang = detectLanguage(text, context.language);
    const intro = INTRO.exec(text);
    const blank = (s: string) =>
      intro ? s.slice(0, intro.index) + ' '.repeat(intro[0].length) + s.slice(intro.index + intro[0].length) : s;
    const turn: Turn = {
      input,
      context,
      lang,
      texts,
      original,
      text,
      query: blank(original),
      queryText: blank(text),
      firstContact: input.history.length === 0,
    };
    const introduced = introducedName(original, text);
    const name = introduced ?? context.name ?? firstName(input.contact.name);

    const answer = await this.answer(turn, name, !!introduced);
    const opener = answer.greets ? undefined : this.opener(turn, name, !!introduced);
    const body = opener ? `${opener} ${answer.body}` : answer.body;

    const shown = answer.shown?.map((i) => i.sku) ?? [];
    // Most recent last; the best match of a list counts as the most recent.
    const interests = [...(context.interests ?? []).filter((s) => !shown.includes(s)), ...[...shown].reverse()].slice(
      -10,
    );
    const update: Partial<ConversationContext> = { language: lang };
    if (answer.stage) update.stage = answer.stage;
    if (shown.length) update.interests = interests;
    if (answer.appointment) update.appointment = answer.appointment;
    if (introduced) update.name = introduced;
    return {
      engine: this.name,
      replies: [{ type: 'text', body }],
      context: update,
      ...(shown.length ? { interests: shown } : {}),
      ...(answer.handoff ? { handoff: { reason: 'contact_asked' } } : {}),
    };
  }

  private async answer(turn: Turn, name: string | undefined, introduced: boolean): Promise<Answer> {
    const { text, lang, context } = turn;
    if (!text) return this.withoutText(turn, name);
    if (HUMAN.some((p) => p.test(text))) return handoff(lang);
    const when = withoutGreetings(text);
    const continuing = context.stage === 'scheduling' && (DAY.test(when) || TIME.test(when));
    if (SCHEDULE.test(text) || continuing) return this.schedule(turn, continuing);
    const catalog = await this.catalog(turn);
    if (catalog) return catalog;
    const thanks = THANKS.test(text);
    const bye = BYE.test(text);
    if (thanks || bye) return farewell(lang, thanks, bye, context.stage === 'scheduling');
    if (GREETING.test(text) || HOW_ARE_YOU.test(text) || PRESENCE.test(text) || introduced) {
      return this.greeting(turn, name, introduced);
    }
    return fallback(lang);
  }

  /**
   * A burst with nothing to read. Meta sends `request_welcome` when someone opens the chat for the
   * first time (a greeting is due), and `unsupported` for what it does not pass on (an edit, a
   * poll, a view-once message; the first message from an ad, for some numbers): asking for text
   * beats thanking for a file. Anything else here is media.
   */
  private async withoutText(turn: Turn, name: string | undefined): Promise<Answer> {
    const types = turn.input.messages.map((m) => m.type);
    if (types.every((t) => t === 'request_welcome')) return this.greeting(turn, name, false);
    if (types.every((t) => t === 'request_welcome' || t === 'unsupported' || t === 'unknown')) {
      return unreadable(turn.lang);
    }
    return media(turn.lang);
  }

  /** "Olá, Maria!" on first contact (or when they just said their name), "Olá!" when greeted later. */
  private opener(turn: Turn, name: string | undefined, introduced: boolean): string | undefined {
    const { lang, text } = turn;
    const howAreYou = HOW_ARE_YOU.test(text);
    const greeted = GREETING.test(text) || howAreYou;
    if (!turn.firstContact && !introduced && !greeted) return undefined;
    const named = turn.firstContact || introduced ? name : undefined;
    let hello: string;
    if (introduced && named) hello = lang === 'pt' ? `Prazer, ${named}!` : `Nice to meet you, ${named}!`;
    else hello = `${salutation(text, lang)}${named ? `, ${named}` : ''}!`;
    if (howAreYou) hello += lang === 'pt' ? ' Tudo ótimo por aqui!' : ' All good here, thanks for asking!';
    return hello;
  }

  private async greeting(turn: Turn, name: string | undefined, introduced: boolean): Promise<Answer> {
    const { lang, context } = turn;
    const opener = this.opener(turn, name, introduced) ?? (lang === 'pt' ? 'Olá!' : 'Hello!');
    const stage = context.stage ? undefined : 'greeting';
    if (turn.firstContact) {
      const body =
        lang === 'pt'
          ? `${opener} Sou o assistente virtual da loja 😊 Posso te mostrar os carros disponíveis, passar preços ou agendar um test drive. O que você procura?`
          : `${opener} I'm the store's virtual assistant 😊 I can show you the cars we have, give you prices or book a test drive. What are you looking for?`;
      return { body, greets: true, stage };
    }
    if (introduced) {
      const body =
        lang === 'pt'
          ? `${opener} Como posso te ajudar? Posso te mostrar os carros disponíveis, passar preços ou agendar um test drive.`
          : `${opener} How can I help? I can show you the cars we have, give you prices or book a test drive.`;
      return { body, greets: true, stage };
    }
    // Coming back: pick up where they left off.
    const last = context.interests?.at(-1);
    const [item] = last ? await this.tools.searchCatalog(last, 1) : [];
    const presence = PRESENCE.test(turn.text);
    const start = presence ? (lang === 'pt' ? 'Estou aqui, sim!' : "Yes, I'm here!") : opener;
    let body: string;
    if (item) {
      body =
        lang === 'pt'
          ? `${start} Que bom falar com você de novo. Ainda tem interesse no ${item.name}, ou quer ver outras opções?`
          : `${start} Good to hear from you again. Are you still interested in the ${item.name}, or would you like to see other options?`;
    } else {
      body =
        lang === 'pt'
          ? `${start} Que bom falar com você de novo. Em que posso ajudar hoje?`
          : `${start} Good to hear from you again. How can I help you today?`;
    }
    return { body, greets: true, stage };
  }

  private async schedule(turn: Turn, continuing: boolean): Promise<Answer> {
    const { lang, context } = turn;
    const said = turn.texts
      .filter((t) => {
        const folded = withoutGreetings(foldText(t));
        return SCHEDULE.test(folded) || DAY.test(folded) || TIME.test(folded);
      })
      .join(' ');
    const appointment = continuing && context.appointment ? `${context.appointment} — ${said}` : said;
    const folded = withoutGreetings(foldText(appointment));
    const day = spans(DAY, folded, appointment).at(-1);
    const time = spans(TIME, folded, appointment).at(-1);
    // The car may be named in another message of the burst ("gostei do Kicks" / "dá pra testar amanhã?").
    const about = continuing && context.appointment ? `${context.appointment}\n${turn.query}` : turn.query;
    const [item] = parseCatalogQuery(about).terms.length ? await this.tools.searchCatalog(about, 1) : [];
    const testDrive = TEST_DRIVE.test(folded);

    let timePhrase = time;
    if (time && /^\d/.test(time)) timePhrase = `${lang === 'pt' ? 'às' : 'at'} ${time}`;
    const whenPhrase = [day, timePhrase].filter(Boolean).join(' ');
    let body: string;
    if (lang === 'pt') {
      const what = testDrive
        ? `test drive${item ? ` do ${item.name}` : ''}`
        : `visita${item ? ` para ver o ${item.name}` : ''}`;
      const confirm = 'Um consultor da loja vai confirmar com você por aqui em breve.';
      if (day && time) body = `Perfeito! Anotei seu pedido de ${what} para ${whenPhrase}. ${confirm}`;
      else if (day)
        body = `Ótimo! Anotei seu pedido de ${what} para ${day}. Qual horário fica melhor pra você? ${confirm}`;
      else if (time)
        body = `Ótimo! Anotei seu pedido de ${what}, ${timePhrase}. Qual dia fica melhor pra você? ${confirm}`;
      else {
        const yours = testDrive
          ? `seu test drive${item ? ` do ${item.name}` : ''}`
          : `sua visita${item ? ` para ver o ${item.name}` : ''}`;
        body = `Claro! Vamos agendar ${yours}. Qual dia e horário ficam melhores pra você? ${confirm}`;
      }
    } else {
      const what = testDrive
        ? `test drive${item ? ` of the ${item.name}` : ''}`
        : `visit${item ? ` to see the ${item.name}` : ''}`;
      const confirm = 'Someone from our team will confirm it with you here shortly.';
      if (day && time) body = `Perfect! I've noted your ${what} request for ${whenPhrase}. ${confirm}`;
      else if (day)
        body = `Great! I've noted your ${what} request for ${day}. What time works best for you? ${confirm}`;
      else if (time)
        body = `Great! I've noted your ${what} request, ${timePhrase}. Which day works best for you? ${confirm}`;
      else body = `Sure! Let's book your ${what}. Which day and time work best for you? ${confirm}`;
    }
    return { body, stage: 'scheduling', appointment, shown: item ? [item] : [] };
  }

  /** A question about cars or prices, answered from the catalog; null when the burst is not one. */
  private async catalog(turn: Turn): Promise<Answer | null> {
    const { queryText: text, query: original, context } = turn;
    const query = parseCatalogQuery(original);
    const priced = query.minPrice !== undefined || query.maxPrice !== undefined;
    const cued = CATALOG_CUE.test(text) || YEAR.test(text) || priced || (WEAK_CUE.test(text) && query.terms.length > 0);
    if (!cued && !query.terms.length) return null;
    const found = await this.tools.searchCatalog(original, 3);
    if (!cued && !found.length) return null; // unknown words that name nothing we sell
    if (found.length && (query.terms.length || priced)) {
      // Only the best matches: an automatic sedan is no answer to "automatic SUV".
      const best = countMatchedTerms(found[0]!, query.terms);
      return this.showItems(
        turn,
        found.filter((i) => countMatchedTerms(i, query.terms) === best),
        query,
      );
    }
    if (!found.length) return this.noMatch(turn, query);
    // Nothing named: a price question about the car we last talked about, or what we have.
    const asksPrice = PRICE_CUE.test(text);
    const last = context.interests?.at(-1);
    if (asksPrice && last) {
      const [item] = await this.tools.searchCatalog(last, 1);
      if (item) return this.showItems(turn, [item], { terms: [] });
    }
    return this.overview(turn, asksPrice);
  }

  private showItems(turn: Turn, items: CatalogItemView[], query: CatalogQuery): Answer {
    const { lang } = turn;
    const [top] = items;
    if (!top) return fallback(lang);
    // A detail (colour, year, category) that another shown item has but the best one lacks: not
    // exactly what they asked for. Several models named ("hb20 ou onix?") are alternatives.
    const nameOnly = (i: CatalogItemView) => ({ name: i.name, category: null, attributes: {} });
    const partial = query.terms.some(
      (t) =>
        countMatchedTerms(top, [t]) === 0 &&
        items.some((i) => countMatchedTerms(i, [t]) > 0 && countMatchedTerms(nameOnly(i), [t]) === 0),
    );
    const priced = query.minPrice !== undefined || query.maxPrice !== undefined;
    const lines: string[] = [];
    if (partial) {
      lines.push(
        lang === 'pt'
          ? 'Não encontrei exatamente isso, mas tenho algo parecido:'
          : "I couldn't find exactly that, but here's something close:",
      );
    }
    if (items.length === 1) {
      const { title, details } = describeItem(top, lang);
      const about = details.length ? ` (${details.join(', ')})` : '';
      const price = money(top.price, top.currency, lang);
      let sentence = lang === 'pt' ? `O ${title}${about} está por ${price}.` : `The ${title}${about} is ${price}.`;
      if (top.previousPrice !== undefined) {
        const before = money(top.previousPrice, top.currency, lang);
        sentence +=
          lang === 'pt' ? ` E baixou de preço: antes era ${before}!` : ` Good news: it just dropped from ${before}!`;
      }
      lines.push(sentence);
      lines.push(
        lang === 'pt'
          ? 'Quer agendar um test drive ou saber mais alguma coisa?'
          : 'Would you like to book a test drive or know more?',
      );
      return { body: lines.join(' '), stage: 'interested', shown: items };
    }
    if (!partial) {
      lines.push(
        lang === 'pt'
          ? priced
            ? 'Nessa faixa de preço, tenho estas opções:'
            : 'Tenho estas opções pra você:'
          : priced
            ? "In that price range, here's what I have:"
            : 'Here are some options for you:',
      );
    }
    for (const item of items) {
      const { title, details } = describeItem(item, lang);
      const km = details.find((d) => d.endsWith(' km'));
      let line = `• ${title}${km ? `, ${km}` : ''} — ${money(item.price, item.currency, lang)}`;
      if (item.previousPrice !== undefined) {
        const before = money(item.previousPrice, item.currency, lang);
        line += lang === 'pt' ? ` (baixou de ${before})` : ` (was ${before})`;
      }
      lines.push(line);
    }
    lines.push(
      lang === 'pt'
        ? 'Quer saber mais de algum ou agendar um test drive?'
        : 'Want to know more about any of them or book a test drive?',
    );
    const [intro, ...rest] = lines;
    return { body: `${intro}\n${rest.join('\n')}`, stage: 'browsing', shown: items };
  }

  private async noMatch(turn: Turn, query: CatalogQuery): Promise<Answer> {
    const { lang } = turn;
    const all = await this.tools.searchCatalog('', 100);
    const [cheapest] = all;
    if (!cheapest) return emptyCatalog(lang);
    const priced = query.minPrice !== undefined || query.maxPrice !== undefined;
    const offer =
      lang === 'pt'
        ? `Temos opções de ${categories(all, lang)}. Quer que eu te mostre alguma?`
        : `We have ${categories(all, lang)} options. Want me to show you some?`;
    let body: string;
    if (priced) {
      body =
        lang === 'pt'
          ? 'Não encontrei nada nessa faixa de preço agora.'
          : "I couldn't find anything in that price range right now.";
      if (query.maxPrice !== undefined) {
        const { title } = describeItem(cheapest, lang);
        const price = money(cheapest.price, cheapest.currency, lang);
        body +=
          lang === 'pt'
            ? ` O mais em conta que temos é o ${title}, por ${price}.`
            : ` Our most affordable is the ${title}, at ${price}.`;
      }
    } else {
      body =
        lang === 'pt'
          ? 'Poxa, não encontrei esse modelo no nosso estoque agora.'
          : "Sorry, I couldn't find that model in our stock right now.";
    }
    return { body: `${body} ${offer}`, stage: 'browsing' };
  }

  private async overview(turn: Turn, asksPrice: boolean): Promise<Answer> {
    const { lang } = turn;
    const all = await this.tools.searchCatalog('', 100);
    const [cheapest] = all;
    if (!cheapest) return emptyCatalog(lang);
    const kinds = categories(all, lang);
    const from = money(cheapest.price, cheapest.currency, lang);
    let body: string;
    if (lang === 'pt') {
      body = asksPrice
        ? `Claro! De qual carro você quer saber o preço? Temos opções de ${kinds}, a partir de ${from}.`
        : `Temos opções de ${kinds}, a partir de ${from}. Você procura algum modelo, tipo de carro ou faixa de preço?`;
    } else {
      body = asksPrice
        ? `Sure! Which car would you like a price for? We have ${kinds} options, starting at ${from}.`
        : `We have ${kinds} options, starting at ${from}. Are you looking for a particular model, type of car or price range?`;
    }
    return { body, stage: 'browsing' };
  }
}

/** "Good morning" is a greeting, not a time for the test drive. */
function withoutGreetings(text: string): string {
  return text.replace(/\bgood (morning|afternoon|evening)\b/g, (m) => ' '.repeat(m.length));
}

function salutation(text: string, lang: Lang): string {
  if (/\b(bom dia|good morning)\b/.test(text)) return lang === 'pt' ? 'Bom dia' : 'Good morning';
  if (/\b(boa tarde|good afternoon)\b/.test(text)) return lang === 'pt' ? 'Boa tarde' : 'Good afternoon';
  if (/\b(boa noite|good evening)\b/.test(text)) return lang === 'pt' ? 'Boa noite' : 'Good evening';
  return lang === 'pt' ? 'Olá' : 'Hello';
}

function handoff(lang: Lang): Answer {
  return {
    body:
      lang === 'pt'
        ? 'Claro! Vou chamar uma pessoa da nossa equipe para continuar o atendimento com você. Só um instante, por favor.'
        : "Sure! I'm bringing in someone from our team to take over. One moment, please.",
    handoff: true,
  };
}

function farewell(lang: Lang, thanks: boolean, bye: boolean, scheduling: boolean): Answer {
  if (lang === 'pt') {
    if (thanks && bye) return { body: 'Eu que agradeço! Até logo, e quando precisar é só chamar por aqui.' };
    if (bye) return { body: 'Até logo! Foi um prazer falar com você. Quando quiser, é só mandar uma mensagem.' };
    return {
      body: scheduling
        ? 'Por nada! Um consultor vai confirmar seu agendamento com você em breve. Se precisar de mais alguma coisa, é só chamar.'
        : 'Por nada! Se precisar de mais alguma coisa, é só chamar.',
    };
  }
  if (thanks && bye) return { body: 'Thank you! Bye for now, and write any time you need something.' };
  if (bye) return { body: 'Goodbye! It was a pleasure talking to you. Write any time.' };
  return {
    body: scheduling
      ? "You're welcome! Someone from our team will confirm your appointment shortly. Anything else, just ask."
      : "You're welcome! If you need anything else, just send a message.",
  };
}

function fallback(lang: Lang): Answer {
  return {
    body:
      lang === 'pt'
        ? 'Desculpe, não entendi bem. Posso te ajudar com:\n• ver os carros disponíveis\n• consultar preços\n• agendar um test drive\n• falar com um atendente\nÉ só me dizer!'
        : "Sorry, I didn't quite get that. I can help you:\n• see the cars we have\n• check prices\n• book a test drive\n• talk to someone from our team\nJust let me know!",
  };
}

function media(lang: Lang): Answer {
  return {
    body:
      lang === 'pt'
        ? 'Recebi seu arquivo, obrigado! Por aqui eu só consigo ler mensagens de texto. Me conta o que você procura?'
        : 'Thanks, I got your file! I can only read text messages here. Could you tell me what you are looking for?',
  };
}

function unreadable(lang: Lang): Answer {
  return {
    body:
      lang === 'pt'
        ? 'Não consegui abrir essa mensagem por aqui. Pode me escrever em texto o que você procura?'
        : "I couldn't open that message here. Could you write what you're looking for as text?",
  };
}

function emptyCatalog(lang: Lang): Answer {
  return {
    body:
      lang === 'pt'
        ? 'No momento não tenho carros para te mostrar por aqui. Quer que eu chame um consultor para te ajudar?'
        : "I don't have any cars to show you here right now. Would you like me to bring in someone from our team?",
  };
}
