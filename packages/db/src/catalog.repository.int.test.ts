import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, type Db } from './client';
import {
  contactsInterestedIn,
  parseCatalogQuery,
  recordInterests,
  searchCatalog,
  upsertCatalogItem,
} from './catalog.repository';
import { SAMPLE_CATALOG, seedCatalog } from './sample-catalog';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 5 });
  await seedCatalog(db);
});
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

const skus = async (query: string, limit = 20) => (await searchCatalog(db, query, limit)).map((i) => i.sku);
const uniqueSku = () => `TEST-${randomUUID()}`;
const newContact = () => db.contact.create({ data: { waId: `55${randomUUID().replace(/\D/g, '').slice(0, 12)}` } });

describe('parseCatalogQuery', () => {
  it.each([
    ['SUV até 100 mil', { maxPrice: 100_000 }],
    ['ate 80000', { maxPrice: 80_000 }],
    ['até R$ 98.900', { maxPrice: 98_900 }],
    ['under 100k', { maxPrice: 100_000 }],
    ['below 90,000', { maxPrice: 90_000 }],
    ['acima de 150 mil', { minPrice: 150_000 }],
    ['over $150,000', { minPrice: 150_000 }],
    ['entre 80 e 120 mil', { minPrice: 80_000, maxPrice: 120_000 }],
    ['between 80k and 120k', { minPrice: 80_000, maxPrice: 120_000 }],
  ])('reads the price range in "%s"', (text, range) => {
    expect(parseCatalogQuery(text)).toMatchObject(range);
  });

  it('keeps years and distances out of the price range', () => {
    expect(parseCatalogQuery('a partir de 2020')).toEqual({ terms: [['2020']] });
    expect(parseCatalogQuery('com menos de 50 mil km')).toEqual({ terms: [] });
  });

  it('drops the words that say nothing about the car and keeps singular spellings', () => {
    expect(parseCatalogQuery('Oi! Vocês têm SUVs automáticos?').terms).toEqual([
      ['suvs', 'suv'],
      ['automaticos', 'automatico'],
    ]);
  });
});

describe('searchCatalog', () => {
  it('finds an item by a word of its name, ignoring case', async () => {
    expect(await skus('COROLLA')).toEqual(['COROLLA-XEI-2022']);
  });

  it('matches attribute values ignoring accents', async () => {
    const withAccent = await searchCatalog(db, 'automático', 20);
    expect(withAccent.length).toBeGreaterThan(5);
    expect(withAccent.every((i) => i.attributes.transmission === 'automático')).toBe(true);
    expect(await skus('automatico')).toEqual(withAccent.map((i) => i.sku));
  });

  it('finds a category, in Portuguese or English spellings', async () => {
    const suvs = await searchCatalog(db, 'SUV', 20);
    expect(suvs).toHaveLength(SAMPLE_CATALOG.filter((i) => i.category === 'SUV').length);
    expect(await skus('pickups')).toEqual(['STRADA-FREEDOM-2023', 'TORO-VOLCANO-2022', 'HILUX-SRV-2021']);
  });

  it('finds by year and fuel', async () => {
    expect(await skus('diesel')).toEqual(['TORO-VOLCANO-2022', 'HILUX-SRV-2021']);
    expect((await searchCatalog(db, '2023', 20)).every((i) => i.attributes.year === 2023)).toBe(true);
  });

  it('filters by a price ceiling said in Portuguese', async () => {
    expect(await skus('um SUV até 100 mil')).toEqual(['RENEGADE-SPORT-2021', 'KICKS-SV-2021']);
    expect(await skus('ate 80000')).toEqual(['HB20-COMFORT-2021', 'ONIX-LT-2022', 'ARGO-DRIVE-2023']);
  });

  it('filters by a price ceiling said in English', async () => {
    expect(await skus('SUV under 100k')).toEqual(['RENEGADE-SPORT-2021', 'KICKS-SV-2021']);
    expect(await skus('anything below 90,000?')).toEqual(['HB20-COMFORT-2021', 'ONIX-LT-2022', 'ARGO-DRIVE-2023']);
  });

  it('filters by a price floor in Portuguese and English', async () => {
    expect(await skus('acima de 150 mil')).toEqual(['TORO-VOLCANO-2022', 'HILUX-SRV-2021']);
    expect(await skus('over 150k')).toEqual(['TORO-VOLCANO-2022', 'HILUX-SRV-2021']);
  });

  it('ranks by the number of matched words, then by price', async () => {
    // Kicks is the only black automatic SUV; then the automatic SUVs, cheapest first.
    const found = await skus('suv automático preto', 4);
    expect(found).toEqual(['KICKS-SV-2021', 'RENEGADE-SPORT-2021', 'TRACKER-LT-2022', 'TCROSS-COMFORTLINE-2022']);
  });

  it('puts the model named before other items matching as many words', async () => {
    expect((await skus('corolla branco'))[0]).toBe('COROLLA-XEI-2022');
  });

  it('returns at most `limit` items', async () => {
    expect(await searchCatalog(db, 'flex', 3)).toHaveLength(3);
    expect(await searchCatalog(db, 'flex')).toHaveLength(5);
  });

  it('returns nothing when no word matches', async () => {
    expect(await searchCatalog(db, 'Ferrari')).toEqual([]);
  });

  it('lists everything in the price range, cheapest first, when the query has no words', async () => {
    const all = await searchCatalog(db, '', 100);
    expect(all.map((i) => i.price)).toEqual([...all.map((i) => i.price)].sort((a, b) => a - b));
    expect(all).toHaveLength(SAMPLE_CATALOG.length);
  });

  it('finds an item by its exact SKU', async () => {
    expect(await skus('kicks-sv-2021')).toEqual(['KICKS-SV-2021']);
  });

  it('gives prices as numbers and the previous price after a recent drop', async () => {
    const [corolla] = await searchCatalog(db, 'corolla');
    expect(corolla).toMatchObject({ price: 129_900, previousPrice: 134_900, currency: 'BRL' });
    const [civic] = await searchCatalog(db, 'civic');
    expect(civic!.price).toBe(112_900);
    expect(civic).not.toHaveProperty('previousPrice');
  });

  it('forgets a drop older than 30 days, and ignores a price that went up', async () => {
    const sku = uniqueSku();
    const { id } = await upsertCatalogItem(db, { sku, name: 'Peugeot 208 Zyxwv', category: 'hatch', price: 90_000 });
    await upsertCatalogItem(db, { sku, name: 'Peugeot 208 Zyxwv', category: 'hatch', price: 80_000 });
    expect((await searchCatalog(db, 'zyxwv'))[0]!.previousPrice).toBe(90_000);

    await db.$executeRaw`UPDATE catalog_price_history
      SET changed_at = now() - (CASE WHEN price = 90000 THEN '45 days' ELSE '40 days' END)::interval
      WHERE item_id = ${id}::uuid`;
    expect((await searchCatalog(db, 'zyxwv'))[0]).not.toHaveProperty('previousPrice');

    await upsertCatalogItem(db, { sku, name: 'Peugeot 208 Zyxwv', category: 'hatch', price: 85_000 });
    expect((await searchCatalog(db, 'zyxwv'))[0]).not.toHaveProperty('previousPrice');
  });

  it('leaves inactive items out', async () => {
    const sku = uniqueSku();
    await upsertCatalogItem(db, { sku, name: 'Fusca Qwzrt', price: 30_000, active: false });
    expect(await searchCatalog(db, 'qwzrt')).toEqual([]);
  });
});

describe('upsertCatalogItem', () => {
  const history = (sku: string) =>
    db.catalogPriceHistory.findMany({ where: { item: { sku } }, orderBy: { changedAt: 'asc' } });

  it('records the price on creation and on each change, and nothing when the item is unchanged', async () => {
    const sku = uniqueSku();
    const item = {
      sku,
      name: 'Renault Kwid Zen',
      category: 'hatch',
      price: 59_900,
      attributes: { year: 2023, km: 10 },
    };
    expect(await upsertCatalogItem(db, item)).toMatchObject({ created: true, priceChanged: true });
    const before = await db.catalogItem.findUniqueOrThrow({ where: { sku } });

    // Same content, attributes in another order: not written at all.
    const same = await upsertCatalogItem(db, { ...item, attributes: { km: 10, year: 2023 } });
    expect(same).toMatchObject({ created: false, changed: false, priceChanged: false });
    expect((await db.catalogItem.findUniqueOrThrow({ where: { sku } })).updatedAt).toEqual(before.updatedAt);

    expect(await upsertCatalogItem(db, { ...item, name: 'Renault Kwid Zen 1.0' })).toMatchObject({
      changed: true,
      priceChanged: false,
    });
    expect(await upsertCatalogItem(db, { ...item, price: 57_900 })).toMatchObject({ priceChanged: true });
    expect((await history(sku)).map((h) => Number(h.price))).toEqual([59_900, 57_900]);
  });

  it('creates an item once when two upserts of a new SKU race', async () => {
    const sku = uniqueSku();
    const results = await Promise.all(
      [1, 2, 3].map(() => upsertCatalogItem(db, { sku, name: 'Fiat Mobi Like', price: 55_000 })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await history(sku)).toHaveLength(1);
  });
});

describe('seedCatalog', () => {
  it('is idempotent: a second run changes nothing', async () => {
    const snapshot = async () => ({
      items: await db.catalogItem.findMany({
        where: { sku: { in: SAMPLE_CATALOG.map((i) => i.sku) } },
        orderBy: { sku: 'asc' },
      }),
      history: await db.catalogPriceHistory.count({
        where: { item: { sku: { in: SAMPLE_CATALOG.map((i) => i.sku) } } },
      }),
    });
    const before = await snapshot();
    expect(await seedCatalog(db)).toEqual({ created: 0, updated: 0, unchanged: SAMPLE_CATALOG.length });
    expect(await snapshot()).toEqual(before);
  });
});

describe('contact interests', () => {
  it('counts each mention of an item by a contact, ignoring unknown SKUs', async () => {
    const contact = await newContact();
    expect(await recordInterests(db, contact.id, ['COROLLA-XEI-2022', 'KICKS-SV-2021', 'NO-SUCH-SKU'])).toBe(2);
    await recordInterests(db, contact.id, ['COROLLA-XEI-2022', 'COROLLA-XEI-2022']);
    const rows = await db.contactInterest.findMany({ where: { contactId: contact.id }, include: { item: true } });
    const mentions = Object.fromEntries(rows.map((r) => [r.item.sku, r.mentions]));
    expect(mentions).toEqual({ 'COROLLA-XEI-2022': 2, 'KICKS-SV-2021': 1 });
  });

  it('lists the contacts interested in an item, most recent first, without those who opted out', async () => {
    const sku = uniqueSku();
    const { id: itemId } = await upsertCatalogItem(db, { sku, name: 'Citroën C3 Feel', price: 70_000 });
    const [earlier, later, optedOut] = [await newContact(), await newContact(), await newContact()];
    for (const contact of [earlier, later, optedOut]) await recordInterests(db, contact.id, [sku]);
    await db.contactInterest.update({
      where: { contactId_itemId: { contactId: earlier.id, itemId } },
      data: { lastAt: new Date(Date.now() - 3_600_000) },
    });
    await db.contact.update({ where: { id: optedOut.id }, data: { optedOutAt: new Date() } });

    const interested = await contactsInterestedIn(db, itemId);
    expect(interested.map((c) => c.contactId)).toEqual([later.id, earlier.id]);
    expect(interested[0]).toMatchObject({ waId: later.waId, mentions: 1 });
  });
});
