-- zapflow: the replies not yet sent, by conversation. 20261125100000 said nothing looked
-- messages up by status across conversations; one thing did: the sweeper that re-queues stale
-- sends (findStaleOutbound) found them through (status, created_at), and without it read a whole
-- index of messages (12 ms at 200,000 messages, growing with the table). This partial index
-- holds only the queued and sending replies, so the sweeper reads just those (0.15 ms for 50).
-- It leads with the conversation, so the message path's lookups of one conversation's queued
-- replies stay exact through it too, whatever the statistics say.
CREATE INDEX "messages_unsent_idx" ON "messages"("conversation_id", "created_at")
  WHERE "direction" = 'outbound' AND "status" IN ('queued', 'sending');
