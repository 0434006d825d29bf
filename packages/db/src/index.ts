export { createDb, pingDb, type Db, type DbOptions } from './client';
export { migrate, ensureDatabase, databaseName, quoteIdent, MIGRATIONS_DIR } from './migrate';
export * from './inbox.repository';
export * from './conversation.repository';
export * from './turn.repository';
export * from './outbound.repository';
export { Prisma } from './generated/prisma/client';
export type { Channel, Contact, Conversation, Message, Turn, InboxEvent } from './generated/prisma/client';
