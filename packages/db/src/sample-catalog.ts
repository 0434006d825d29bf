import type { Db } from './client';
import { upsertCatalogItem, type CatalogItemInput } from './catalog.repository';

/** A sample item; `previousPrice` seeds a recent price drop (the item "cost more" some days ago). */
export interface SampleCatalogItem extends CatalogItemInput {
  previousPrice?: number;
}

/** How long ago the sample's previous prices were in effect: inside the 30-day price-drop window. */
const PREVIOUS_PRICE_DAYS_AGO = 12;

const car = (
  sku: string,
  name: string,
  category: 'hatch' | 'sedan' | 'SUV' | 'picape',
  price: number,
  attributes: {
    year: number;
    km: number;
    fuel: 'flex' | 'diesel';
    transmission: 'manual' | 'automático';
    color: string;
  },
  previousPrice?: number,
): SampleCatalogItem => ({
  sku,
  name,
  category,
  price,
  currency: 'BRL',
  attributes,
  ...(previousPrice ? { previousPrice } : {}),
});

/** The stock of a Brazilian used-car dealer: popular models, prices in BRL. */
export const SAMPLE_CATALOG: readonly SampleCatalogItem[] = [
  car('HB20-COMFORT-2021', 'Hyundai HB20 Comfort 1.0', 'hatch', 68_900, {
    year: 2021,
    km: 52_000,
    fuel: 'flex',
    transmission: 'manual',
    color: 'prata',
  }),
  car('ONIX-LT-2022', 'Chevrolet Onix LT 1.0', 'hatch', 72_900, {
    year: 2022,
    km: 41_000,
    fuel: 'flex',
    transmission: 'manual',
    color: 'branco',
  }),
  car('ARGO-DRIVE-2023', 'Fiat Argo Drive 1.3', 'hatch', 79_900, {
    year: 2023,
    km: 18_500,
    fuel: 'flex',
    transmission: 'manual',
    color: 'vermelho',
  }),
  car(
    'POLO-HIGHLINE-2022',
    'Volkswagen Polo Highline 1.0 TSI',
    'hatch',
    98_900,
    { year: 2022, km: 33_000, fuel: 'flex', transmission: 'automático', color: 'cinza' },
    104_900,
  ),
  car('ONIXPLUS-PREMIER-2023', 'Chevrolet Onix Plus Premier 1.0 Turbo', 'sedan', 94_900, {
    year: 2023,
    km: 22_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'azul',
  }),
  car('CIVIC-EXL-2020', 'Honda Civic EXL 2.0', 'sedan', 112_900, {
    year: 2020,
    km: 61_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'branco',
  }),
  car(
    'COROLLA-XEI-2022',
    'Toyota Corolla XEi 2.0',
    'sedan',
    129_900,
    { year: 2022, km: 38_000, fuel: 'flex', transmission: 'automático', color: 'preto' },
    134_900,
  ),
  car('RENEGADE-SPORT-2021', 'Jeep Renegade Sport 1.8', 'SUV', 92_900, {
    year: 2021,
    km: 58_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'vermelho',
  }),
  car(
    'KICKS-SV-2021',
    'Nissan Kicks SV 1.6',
    'SUV',
    99_900,
    { year: 2021, km: 47_000, fuel: 'flex', transmission: 'automático', color: 'preto' },
    103_900,
  ),
  car('TRACKER-LT-2022', 'Chevrolet Tracker LT 1.0 Turbo', 'SUV', 114_900, {
    year: 2022,
    km: 36_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'azul',
  }),
  car('TCROSS-COMFORTLINE-2022', 'Volkswagen T-Cross Comfortline 1.0 TSI', 'SUV', 119_900, {
    year: 2022,
    km: 29_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'branco',
  }),
  car('CRETA-LIMITED-2023', 'Hyundai Creta Limited 1.0 Turbo', 'SUV', 134_900, {
    year: 2023,
    km: 15_000,
    fuel: 'flex',
    transmission: 'automático',
    color: 'prata',
  }),
  car(
    'COMPASS-LONGITUDE-2022',
    'Jeep Compass Longitude 1.3 Turbo',
    'SUV',
    149_900,
    { year: 2022, km: 35_000, fuel: 'flex', transmission: 'automático', color: 'cinza' },
    159_900,
  ),
  car('STRADA-FREEDOM-2023', 'Fiat Strada Freedom 1.3 Cabine Dupla', 'picape', 104_900, {
    year: 2023,
    km: 24_000,
    fuel: 'flex',
    transmission: 'manual',
    color: 'branco',
  }),
  car('TORO-VOLCANO-2022', 'Fiat Toro Volcano 2.0 Diesel 4x4', 'picape', 169_900, {
    year: 2022,
    km: 48_000,
    fuel: 'diesel',
    transmission: 'automático',
    color: 'cinza',
  }),
  car('HILUX-SRV-2021', 'Toyota Hilux SRV 2.8 Diesel 4x4', 'picape', 229_900, {
    year: 2021,
    km: 72_000,
    fuel: 'diesel',
    transmission: 'automático',
    color: 'prata',
  }),
];

export interface SeedSummary {
  created: number;
  updated: number;
  unchanged: number;
}

/**
 * Puts the sample catalog in the database. Idempotent: items already as in the sample are not
 * touched, so running it twice changes nothing. A new item with a `previousPrice` also gets that
 * price in its history, some days back, so there is a recent price drop to talk about.
 */
export async function seedCatalog(db: Db, items: readonly SampleCatalogItem[] = SAMPLE_CATALOG): Promise<SeedSummary> {
  const summary: SeedSummary = { created: 0, updated: 0, unchanged: 0 };
  for (const { previousPrice, ...item } of items) {
    const result = await upsertCatalogItem(db, item);
    if (result.created && previousPrice !== undefined) {
      await db.catalogPriceHistory.create({
        data: {
          itemId: result.id,
          price: previousPrice,
          changedAt: new Date(Date.now() - PREVIOUS_PRICE_DAYS_AGO * 86_400_000),
        },
      });
    }
    if (result.created) summary.created++;
    else if (result.changed) summary.updated++;
    else summary.unchanged++;
  }
  return summary;
}
