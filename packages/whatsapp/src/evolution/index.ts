/**
 * Reading Evolution API webhook deliveries: messages (`messages.upsert`) and the delivery
 * statuses of messages zapflow sent (`messages.update`).
 * `extractEvolutionEvents` is the entry point and `evolutionApiKeyOf` finds the key a delivery
 * carries; the schemas are exported for callers that validate or type payloads themselves, and
 * `evolutionFixtures` builds realistic payloads for tests.
 */
export { extractEvolutionEvents, evolutionApiKeyOf } from './extract';
export type { EvolutionEvents, EvolutionIgnored, EvolutionInbound, EvolutionHeaders } from './extract';
export { EVOLUTION_DELIVERY_STATUSES, type EvolutionDeliveryStatus, type EvolutionStatus } from './status';
export { jidKind, phoneOfJid, type JidKind } from './jid';
export * from './webhook.schema';
export * as evolutionFixtures from './fixtures';
