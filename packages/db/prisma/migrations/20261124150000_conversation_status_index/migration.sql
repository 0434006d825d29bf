-- zapflow: a conversation's messages in one state. The message path looks up a conversation's
-- pending inbound and queued outbound messages on every turn and send; with only
-- (conversation_id, created_at) and (status, created_at) the planner could combine the two and
-- read every queued row of every conversation when a backlog built up.
CREATE INDEX "messages_conversation_id_status_created_at_idx" ON "messages"("conversation_id", "status", "created_at");
