-- Sending: delayed sends, the fallback chain's progress, the alternate provider, and broadcasts.

-- Not sent before this time (a typing pause before a reply, or a send scheduled through the API).
ALTER TABLE "messages" ADD COLUMN "send_after" TIMESTAMPTZ(3);
-- How far a message that could not be sent has gone along the fallback chain:
-- NULL, 'alternate' (being tried on the alternate provider), 'requeued' (its one high-priority retry).
ALTER TABLE "messages" ADD COLUMN "fallback_stage" TEXT;
-- Meta said the contact is outside the 24-hour window (131047): send the template equivalent instead.
ALTER TABLE "messages" ADD COLUMN "send_as_template" BOOLEAN NOT NULL DEFAULT false;
-- The channel that actually sent it, when the alternate provider did (its statuses name that channel).
ALTER TABLE "messages" ADD COLUMN "via_channel_id" UUID;
ALTER TABLE "messages" ADD CONSTRAINT "messages_via_channel_id_fkey" FOREIGN KEY ("via_channel_id") REFERENCES "channels"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE UNIQUE INDEX "messages_via_channel_id_provider_message_id_key" ON "messages"("via_channel_id", "provider_message_id");
-- When the operators were alerted that this message could not be sent.
ALTER TABLE "messages" ADD COLUMN "alerted_at" TIMESTAMPTZ(3);

CREATE TABLE "broadcasts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "channel_id" UUID NOT NULL,
    "template" JSONB NOT NULL,
    -- Recipients asked for, and those left out (opted out, or listed twice).
    "requested" INTEGER NOT NULL,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "broadcasts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "broadcasts_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "channels"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

ALTER TABLE "messages" ADD COLUMN "broadcast_id" UUID;
ALTER TABLE "messages" ADD CONSTRAINT "messages_broadcast_id_fkey" FOREIGN KEY ("broadcast_id") REFERENCES "broadcasts"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "messages_broadcast_id_status_idx" ON "messages"("broadcast_id", "status") WHERE "broadcast_id" IS NOT NULL;
-- `POST /api/monitoring/retry-failed` looks up recent failures.
CREATE INDEX "messages_failed_at_idx" ON "messages"("failed_at") WHERE "direction" = 'outbound' AND "status" IN ('manual', 'failed');
