-- zapflow: one conversation's messages in one state must never be looked up by reading every
-- message in that state. A reply is queued, and an inbound message unanswered, for milliseconds,
-- so the planner's statistics seldom see a row in those states. After an outage leaves a backlog,
-- "this conversation's queued messages" then looked as cheap through (status, created_at) as
-- through (conversation_id, status, created_at), and PostgreSQL could take the first and read
-- the whole backlog for every message it sent (57 ms for six sends over 20,000 queued rows).
-- Nothing looks messages up by status across conversations through it: the manual queue and
-- the failed messages have messages_failed_at_idx, the unanswered ones messages_pending_idx.
DROP INDEX "messages_status_created_at_idx";
