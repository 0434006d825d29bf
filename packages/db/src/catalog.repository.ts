import type { Db } from './client';
import { Prisma } from './generated/prisma/client';

/** A catalog item as search returns it: the price as a number, and the recent drop if any. */
export interface CatalogItemSummary {
  id: string;
  sku: string;
  name: string;
  category: string | null;
  price: number;
  currency: string;
  attributes: Record<string, unknown>;
  /** The highest price in effect during the last 30 days, when it was above today's. */
  previousPrice?: number;
}

/** An item as the business describes it: the whole truth about the item (omitted fields take defaults). */
export interface CatalogItemInput {
  sku: string;
  name: string;
  category?: string | null;
  price: number;
  currency?: string;
  attributes?: Record<string, unknown>;
  active?: boolean;
}

/** Free text understood: the words to match (each with its accepted spellings) and a price range. */
export interface CatalogQuery {
  /** One entry per word of the query, each the spellings that count as a match ("suvs" → suvs, suv). */
  terms: string[][];
  minPrice?: number;
  maxPrice?: number;
}

const PRICE_DROP_WINDOW = '30 days';

/**
 * Lower case without accents, one character for one character (so positions in the result are
 * positions in the input): "Automático" → "automatico".
 */
export function foldText(text: string): string {
  let out = '';
  for (const ch of text) {
    const base = ch.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');
    out += base.length === ch.length ? base : ch;
  }
  return out;
}

// Words that say nothing about which car: articles, verbs of asking, greetings, the words of the
// other intents (test drive, days, people), in Portuguese and English. Folded (no accents).
const STOPWORDS = new Set(
  `a o as os um uma uns umas de do da dos das no na nos nas num numa em e ou que com sem por para pra pro pros pras
  se me te lhe eu tu ele ela eles elas voce voces vc vcs meu minha meus minhas seu sua seus suas esse essa esses essas
  este esta estes estas isso isto aquele aquela aqui ai la ali ja ainda tambem so mais menos muito muita bem
  tem tens temos tenho ter tinha ha quero queria queremos gostaria preciso precisava procuro procurando busco buscando
  estou to ta tava esta estao sou era ser estar ver vejo olhar saber sabe conhecer mostrar mostra mostre manda mandar
  qual quais quanto quanta quantos quantas custa custam sai saem fica ficam vale preco precos valor valores carro carros
  veiculo veiculos automovel modelo modelos opcao opcoes estoque algum alguma alguns algumas outro outra outros outras
  coisa algo tipo como onde quando porque pq oi ola alo opa bom boa dia tarde noite tudo certo beleza blz obrigado obrigada
  valeu favor gentileza sim nao ok okay pode podem poderia consegue disponivel disponiveis comprar compra vender venda
  vende vendem barato barata baratos caro cara novo nova usado usados seminovo seminovos interesse interessado
  interessada gostei legal top mil reais real rs cor cores ano anos km quilometragem cambio combustivel
  test drive testdrive agendar agenda agendamento marcar visita visitar passar ir loja hoje amanha depois semana
  segunda terca quarta quinta sexta sabado domingo feira fim final fds manha horario hora horas meio
  falar atendente humano pessoa vendedor vendedora consultor consultora gerente alguem
  the an any some of for to in on at with without and or is are am be do does did you your we our us i my have has had
  got get show see look looking want wanna would like need what which how much many cost costs price prices pricing
  car cars vehicle vehicles model models option options stock inventory available cheap cheaper cheapest please hi
  hello hey there something thing about thousand this that these those it its can could will may one ones sale buy
  new used good morning afternoon evening thanks thank bye yes no visit schedule book appointment come today tomorrow
  monday tuesday wednesday thursday friday saturday sunday weekend next week pm noon talk speak human agent person
  someone under below over above less than up max color year years partir faixa volta torno cerca perto
  qualquer anything everything whatever starting around roughly`.split(/\s+/),
);

// Spellings that mean a word the catalog uses (Portuguese): categories, transmissions, colours, brands.
const SYNONYMS: Record<string, string[]> = {
  seda: ['sedan'],
  sedas: ['sedan'],
  saloon: ['sedan'],
  hatchback: ['hatch'],
  hatchbacks: ['hatch'],
  pickup: ['picape'],
  pickups: ['picape'],
  caminhonete: ['picape'],
  caminhonetes: ['picape'],
  truck: ['picape'],
  trucks: ['picape'],
  automatic: ['automatico'],
  automatica: ['automatico'],
  auto: ['automatico'],
  stick: ['manual'],
  gasolina: ['flex'],
  gasoline: ['flex'],
  etanol: ['flex'],
  alcool: ['flex'],
  white: ['branco'],
  branca: ['branco'],
  black: ['preto'],
  preta: ['preto'],
  silver: ['prata'],
  gray: ['cinza'],
  grey: ['cinza'],
  red: ['vermelho'],
  vermelha: ['vermelho'],
  blue: ['azul'],
  green: ['verde'],
  vw: ['volkswagen'],
  chevy: ['chevrolet'],
  gm: ['chevrolet'],
};

function spellings(word: string): string[] {
  const out = [word, ...(SYNONYMS[word] ?? [])];
  if (/^[a-z]+$/.test(word)) {
    if (word.length > 4 && word.endsWith('es')) out.push(word.slice(0, -2));
    if (word.length > 3 && word.endsWith('s')) out.push(word.slice(0, -1));
  }
  return [...new Set(out)];
}

// An amount: "100 mil", "100k", "80000", "R$ 98.900", "90,000", "1,5 milhão" (folded).
const AMOUNT = String.raw`((?:r\$|rs|\$)\s*)?(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?(?:\s*(mil|k|thousand|reais|milhao|milhoes|mi|million)\b)?`;
const LEAD = String.raw`(?:(?:uns|umas|about|around)\s+)?`;
const CEILING = String.raw`ate|abaixo de|menos de|no maximo|maximo de|maximo|max|teto de|under|below|less than|up to|at most|no more than|maximum|cheaper than`;
const FLOOR = String.raw`acima de|mais de|a partir de|no minimo|minimo de|pelo menos|over|above|more than|at least|starting at|from`;
const APPROX = String.raw`na faixa de|faixa de|por volta de|em torno de|cerca de|perto de|uns|umas|around|about|roughly|approximately`;

interface Amount {
  currency: string | undefined;
  digits: string | undefined;
  cents: string | undefined;
  unit: string | undefined;
}

const amountAt = (match: RegExpExecArray, at: number): Amount => ({
  currency: match[at],
  digits: match[at + 1],
  cents: match[at + 2],
  unit: match[at + 3],
});

/** The price an amount says, or null when it is not a price ("até 2020" is a year, "50 mil km" a distance). */
function priceOf({ currency, digits, cents, unit }: Amount, followedBy: string): number | null {
  if (digits === undefined) return null;
  if (/^\s*(km|quilometros?|kilometers?|miles|anos?|years?|lugares|portas|doors|seats)\b/.test(followedBy)) return null;
  if (!unit && !currency && /^(19[5-9]\d|20[0-3]\d)$/.test(digits)) return null;
  let value = Number(digits.replace(/[.,]/g, '')) + (cents ? Number(`0.${cents}`) : 0);
  if (unit === 'mil' || unit === 'k' || unit === 'thousand') value *= 1_000;
  else if (unit === 'milhao' || unit === 'milhoes' || unit === 'mi' || unit === 'million') value *= 1_000_000;
  else if (!unit && value < 1_000) value *= 1_000; // "até 80" at a car dealer means 80 mil
  return value;
}

/**
 * Reads a shopper's free text: a price range ("até 100 mil", "ate 80000", "under 100k",
 * "below 90,000", "acima de 150 mil", "entre 80 e 120 mil", "uns 100 mil") and the words left.
 */
export function parseCatalogQuery(query: string): CatalogQuery {
  let text = foldText(query);
  const result: CatalogQuery = { terms: [] };
  const after = (match: RegExpExecArray) => text.slice(match.index + match[0].length);
  const cut = (match: RegExpExecArray) => {
    text = text.slice(0, match.index) + ' '.repeat(match[0].length) + after(match);
  };

  const range = new RegExp(String.raw`\b(?:entre|between|de|from)\s+${AMOUNT}\s*(?:e|and|a|to|-)\s*${AMOUNT}`).exec(
    text,
  );
  if (range) {
    const second = amountAt(range, 5);
    const first = amountAt(range, 1);
    // "entre 80 e 120 mil": a unit said once applies to both.
    const low = priceOf({ ...first, unit: first.unit ?? second.unit }, '');
    const high = priceOf(second, after(range));
    if (low !== null && high !== null) {
      result.minPrice = Math.min(low, high);
      result.maxPrice = Math.max(low, high);
      cut(range);
    }
  }
  const rules: [RegExp, (value: number) => void][] = [
    [new RegExp(String.raw`\b(?:${CEILING})\s+${LEAD}${AMOUNT}`), (v) => (result.maxPrice = v)],
    [new RegExp(String.raw`\b(?:${FLOOR})\s+${LEAD}${AMOUNT}`), (v) => (result.minPrice = v)],
    [
      new RegExp(String.raw`(?:^|\s)${AMOUNT}\s+(?:no maximo|ou menos|or less|tops|max)\b`),
      (v) => (result.maxPrice = v),
    ],
    [
      new RegExp(String.raw`(?:^|\s)${AMOUNT}\s+(?:ou mais|pra cima|para cima|or more|and up|plus)\b`),
      (v) => (result.minPrice = v),
    ],
    [
      new RegExp(String.raw`\b(?:${APPROX})\s+${AMOUNT}`),
      (v) => {
        result.minPrice = Math.round(v * 0.85);
        result.maxPrice = Math.round(v * 1.15);
      },
    ],
  ];
  if (result.maxPrice === undefined) {
    for (const [pattern, apply] of rules) {
      const match = pattern.exec(text);
      const value = match && priceOf(amountAt(match, 1), after(match));
      if (!match || value === null) continue;
      apply(value);
      cut(match);
    }
  }
  // A bare amount with a unit or currency ("um SUV de 100 mil", "R$ 90.000") means about that much.
  if (result.minPrice === undefined && result.maxPrice === undefined) {
    const bare = new RegExp(String.raw`(?:^|\s)${AMOUNT}`, 'g');
    for (let match = bare.exec(text); match; match = bare.exec(text)) {
      const amount = amountAt(match, 1);
      const value = amount.currency || amount.unit ? priceOf(amount, after(match)) : null;
      if (value === null) continue;
      result.minPrice = Math.round(value * 0.85);
      result.maxPrice = Math.round(value * 1.15);
      cut(match);
      break;
    }
  }

  // Distances ("50 mil km") are not about which car: leave their numbers out of the words.
  text = text.replace(new RegExp(String.raw`${AMOUNT}\s*(?:km|quilometros?|kilometers?|miles)\b`, 'g'), (m) =>
    ' '.repeat(m.length),
  );
  const seen = new Set<string>();
  for (const word of text.split(/[^a-z0-9]+/)) {
    if (word.length < 2 || STOPWORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    result.terms.push(spellings(word));
  }
  return result;
}

/** The words an item can be found by: its name (also without hyphens), category and attribute values. */
export function catalogWords(item: Pick<CatalogItemSummary, 'name' | 'category' | 'attributes'>): Set<string> {
  const values = Object.values(item.attributes).filter(
    (v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean',
  );
  const text = [item.name, item.name.replace(/-/g, ''), item.category ?? '', ...values.map(String)].join(' ');
  return new Set(
    foldText(text)
      .split(/[^a-z0-9]+/)
      .filter(Boolean),
  );
}

/** How many of the query's words the item matches. */
export function countMatchedTerms(
  item: Pick<CatalogItemSummary, 'name' | 'category' | 'attributes'>,
  terms: string[][],
): number {
  const words = catalogWords(item);
  return terms.filter((alternatives) => alternatives.some((a) => words.has(a))).length;
}

interface SearchRow {
  id: string;
  sku: string;
  name: string;
  category: string | null;
  price: Prisma.Decimal;
  currency: string;
  attributes: unknown;
  recent_max: Prisma.Decimal | null;
}

const ACCENTED = 'áàâãäåéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ';
const PLAIN = 'aaaaaaeeeeiiiiooooouuuucnaaaaaaeeeeiiiiooooouuuucn';

/**
 * Active items matching free text, best first: items matching more of the query's words first
 * (then more of them in the name, so "corolla preto" puts the Corolla before other black cars),
 * then the cheapest. Words are matched whole, ignoring case and accents, against the name,
 * category and attribute values; a price range in the text filters. A query without words lists
 * the items in the price range, cheapest first; a query that is exactly a SKU finds that item.
 */
export async function searchCatalog(db: Db, query: string, limit = 5): Promise<CatalogItemSummary[]> {
  const take = Math.max(1, Math.min(Math.floor(limit), 100));
  const sku = query.trim();
  // A query that is exactly a SKU means that item, not the words of its SKU.
  if (sku && !/\s/.test(sku)) {
    const [item] = await selectItems(db, Prisma.sql`i.active AND lower(i.sku) = lower(${sku})`);
    if (item) return [toSummary(item)];
  }

  const parsed = parseCatalogQuery(query);
  const patterns = [...new Set(parsed.terms.flat())].map((word) => `%${word}%`);
  // The database narrows down (any word as a substring, accents folded with translate(): the
  // unaccent extension may not be installed); the exact whole-word ranking happens below.
  const haystack = Prisma.sql`lower(translate(
    i.name || ' ' || replace(i.name, '-', '') || ' ' || coalesce(i.category, '') || ' ' ||
    coalesce((SELECT string_agg(a.value, ' ') FROM jsonb_each_text(
      CASE WHEN jsonb_typeof(i.attributes) = 'object' THEN i.attributes ELSE '{}'::jsonb END) a), ''),
    ${ACCENTED}, ${PLAIN}))`;
  const conditions = [Prisma.sql`i.active`];
  if (parsed.minPrice !== undefined) conditions.push(Prisma.sql`i.price >= ${parsed.minPrice}::numeric`);
  if (parsed.maxPrice !== undefined) conditions.push(Prisma.sql`i.price <= ${parsed.maxPrice}::numeric`);
  if (patterns.length) conditions.push(Prisma.sql`${haystack} LIKE ANY(${patterns}::text[])`);
  const rows = await selectItems(db, Prisma.join(conditions, ' AND '), patterns.length ? undefined : take);

  return rows
    .map((row) => {
      const item = toSummary(row);
      const inName = countMatchedTerms({ name: item.name, category: null, attributes: {} }, parsed.terms);
      return { item, matched: countMatchedTerms(item, parsed.terms), inName };
    })
    .filter((r) => !patterns.length || r.matched > 0)
    .sort(
      (a, b) =>
        b.matched - a.matched ||
        b.inName - a.inName ||
        a.item.price - b.item.price ||
        (a.item.sku < b.item.sku ? -1 : a.item.sku > b.item.sku ? 1 : 0),
    )
    .slice(0, take)
    .map((r) => r.item);
}

/** Items matching `where`, cheapest first, each with the highest price it had in the drop window. */
function selectItems(db: Db, where: Prisma.Sql, limit?: number): Promise<SearchRow[]> {
  return db.$queryRaw<SearchRow[]>`
    SELECT i.id, i.sku, i.name, i.category, i.price, i.currency, i.attributes, recent.max_price AS recent_max
    FROM catalog_items i
    -- The prices in effect during the window: those set within it, and the one it started with.
    CROSS JOIN LATERAL (
      SELECT max(h.price) AS max_price FROM catalog_price_history h
      WHERE h.item_id = i.id
        AND (h.changed_at >= now() - ${PRICE_DROP_WINDOW}::interval
          OR h.changed_at = (SELECT max(h2.changed_at) FROM catalog_price_history h2
                             WHERE h2.item_id = i.id AND h2.changed_at < now() - ${PRICE_DROP_WINDOW}::interval))
    ) recent
    WHERE ${where}
    ORDER BY i.price, i.sku
    ${limit === undefined ? Prisma.empty : Prisma.sql`LIMIT ${limit}`}`;
}

function toSummary(row: SearchRow): CatalogItemSummary {
  const price = Number(row.price);
  const recentMax = row.recent_max === null ? null : Number(row.recent_max);
  const attributes =
    row.attributes && typeof row.attributes === 'object' && !Array.isArray(row.attributes)
      ? (row.attributes as Record<string, unknown>)
      : {};
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    category: row.category,
    price,
    currency: row.currency,
    attributes,
    ...(recentMax !== null && recentMax > price ? { previousPrice: recentMax } : {}),
  };
}

/** JSON with sorted keys, so two objects with the same content compare equal. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface UpsertCatalogItemResult {
  id: string;
  created: boolean;
  /** Something about the item changed (always true when created). */
  changed: boolean;
  /** The price changed, and a price-history row was written (also on creation). */
  priceChanged: boolean;
}

/**
 * Creates or updates an item by SKU. A price-history row is written on creation and whenever the
 * price changes; an item given exactly as stored is not written at all (updated_at stays).
 */
export async function upsertCatalogItem(db: Db, input: CatalogItemInput): Promise<UpsertCatalogItemResult> {
  const data = {
    name: input.name,
    category: input.category ?? null,
    price: Math.round(input.price * 100) / 100,
    currency: input.currency ?? 'BRL',
    attributes: (input.attributes ?? {}) as Prisma.InputJsonObject,
    active: input.active ?? true,
  };
  return db.$transaction(async (tx) => {
    // ON CONFLICT DO NOTHING: two first upserts of one SKU at once do not collide.
    const { count } = await tx.catalogItem.createMany({ data: [{ sku: input.sku, ...data }], skipDuplicates: true });
    await tx.$queryRaw`SELECT id FROM catalog_items WHERE sku = ${input.sku} FOR UPDATE`;
    const item = await tx.catalogItem.findUniqueOrThrow({ where: { sku: input.sku } });
    if (count === 1) {
      await tx.catalogPriceHistory.create({ data: { itemId: item.id, price: data.price } });
      return { id: item.id, created: true, changed: true, priceChanged: true };
    }
    const priceChanged = Number(item.price) !== data.price;
    const changed =
      priceChanged ||
      item.name !== data.name ||
      item.category !== data.category ||
      item.currency !== data.currency ||
      item.active !== data.active ||
      canonicalJson(item.attributes) !== canonicalJson(data.attributes);
    if (changed) await tx.catalogItem.update({ where: { id: item.id }, data });
    if (priceChanged) await tx.catalogPriceHistory.create({ data: { itemId: item.id, price: data.price } });
    return { id: item.id, created: false, changed, priceChanged };
  });
}

/**
 * Notes that a contact asked about these items: the first time creates the interest, each later
 * time counts one more mention. Unknown SKUs are ignored. Returns how many items were recorded.
 */
export async function recordInterests(db: Db, contactId: string, skus: string[]): Promise<number> {
  if (!skus.length) return 0;
  return db.$executeRaw`
    INSERT INTO contact_interests (contact_id, item_id)
    SELECT ${contactId}::uuid, id FROM catalog_items WHERE sku = ANY(${[...new Set(skus)]}::text[])
    ON CONFLICT (contact_id, item_id) DO UPDATE
      SET mentions = contact_interests.mentions + 1, last_at = now()`;
}

/**
 * Contacts who asked about an item, most recent first, to tell them about a new price. Contacts
 * who opted out are left out: they must not be messaged.
 */
export async function contactsInterestedIn(db: Db, itemId: string) {
  const rows = await db.contactInterest.findMany({
    where: { itemId, contact: { optedOutAt: null } },
    include: { contact: true },
    orderBy: [{ lastAt: 'desc' }, { contactId: 'asc' }],
  });
  return rows.map((row) => ({
    contactId: row.contactId,
    waId: row.contact.waId,
    profileName: row.contact.profileName,
    mentions: row.mentions,
    firstAt: row.firstAt,
    lastAt: row.lastAt,
  }));
}
