-- Conversations: one turn at a time (fencing), handoff to a human, and the catalog the engines
-- answer from (with price history and the contacts' interest in each item).

-- The fencing token of the last turn committed; a turn holding an older token lost its lock.
ALTER TABLE "conversations" ADD COLUMN "turn_fence" BIGINT NOT NULL DEFAULT 0;
-- Consecutive failed turns; past a configured number the conversation goes to a human.
ALTER TABLE "conversations" ADD COLUMN "failed_turns" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "conversations" ADD COLUMN "handed_off_at" TIMESTAMPTZ(3);
ALTER TABLE "conversations" ADD COLUMN "last_activity_at" TIMESTAMPTZ(3);

ALTER TABLE "turns" ADD COLUMN "fence" BIGINT;

-- Who sent an inbox message (wa_id): a turn waits while an earlier message of the same contact
-- is recorded but not yet stored in its conversation, so answers keep the order of sending.
ALTER TABLE "inbox_events" ADD COLUMN "sender" TEXT;
CREATE INDEX "inbox_events_unprocessed_sender_idx" ON "inbox_events"("provider", "channel_key", "sender")
  WHERE "processed_at" IS NULL;

-- When the webhook received an inbound message: after WhatsApp's timestamp (whole seconds), the
-- order in which messages are answered.
ALTER TABLE "messages" ADD COLUMN "arrived_at" TIMESTAMPTZ(3);
-- Messages of one delivery share its arrival time: the inbox's insertion order breaks the tie.
ALTER TABLE "inbox_events" ADD COLUMN "seq" BIGSERIAL;
ALTER TABLE "messages" ADD COLUMN "arrival_seq" BIGINT;

-- Pending inbound messages of a conversation, in the order they are answered.
CREATE INDEX "messages_pending_idx" ON "messages"("conversation_id", "wa_timestamp", "arrived_at", "arrival_seq")
  WHERE "direction" = 'inbound' AND "turn_id" IS NULL AND "status" = 'received';

CREATE TABLE "handoffs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "conversation_id" UUID NOT NULL,
    -- contact_asked, engine_tool, failed_turns, operator
    "reason" TEXT NOT NULL,
    "detail" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),
    -- operator, idle
    "released_by" TEXT,
    CONSTRAINT "handoffs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "handoffs_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "handoffs_conversation_id_idx" ON "handoffs"("conversation_id");

CREATE TABLE "handoff_notifications" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "handoff_id" UUID NOT NULL,
    -- email, crm, whatsapp
    "channel" TEXT NOT NULL,
    -- pending, sent, failed
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "handoff_notifications_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "handoff_notifications_handoff_id_fkey" FOREIGN KEY ("handoff_id") REFERENCES "handoffs"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "handoff_notifications_handoff_id_channel_key" ON "handoff_notifications"("handoff_id", "channel");

CREATE TABLE "catalog_items" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "sku" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "category" TEXT,
    "price" DECIMAL(12,2) NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'BRL',
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "catalog_items_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "catalog_items_sku_key" ON "catalog_items"("sku");

CREATE TABLE "catalog_price_history" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "item_id" UUID NOT NULL,
    "price" DECIMAL(12,2) NOT NULL,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "catalog_price_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "catalog_price_history_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "catalog_items"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "catalog_price_history_item_id_changed_at_idx" ON "catalog_price_history"("item_id", "changed_at");

CREATE TABLE "contact_interests" (
    "contact_id" UUID NOT NULL,
    "item_id" UUID NOT NULL,
    "first_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "mentions" INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT "contact_interests_pkey" PRIMARY KEY ("contact_id", "item_id"),
    CONSTRAINT "contact_interests_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "contact_interests_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "catalog_items"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "contact_interests_item_id_idx" ON "contact_interests"("item_id");
