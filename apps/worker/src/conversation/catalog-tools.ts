import { searchCatalog, type CatalogItemSummary, type Db } from '@zapflow/db';
import type { CatalogItemView, EngineTools } from './engine';

/** The item as engines see it: no database id (an engine quotes SKUs, never row ids). */
function toView({ id: _id, previousPrice, ...item }: CatalogItemSummary): CatalogItemView {
  return previousPrice === undefined ? item : { ...item, previousPrice };
}

/** The engines' tools over the real catalog in PostgreSQL. */
export function catalogTools(db: Db): EngineTools {
  return {
    async searchCatalog(query, limit) {
      return (await searchCatalog(db, query, limit)).map(toView);
    },
  };
}
