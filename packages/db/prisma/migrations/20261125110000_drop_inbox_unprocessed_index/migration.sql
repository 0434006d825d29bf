-- zapflow: the same trap as 20261125100000, in the inbox. An inbox event is unprocessed for
-- milliseconds, so the planner's statistics seldom see one; with a backlog they had not seen,
-- a turn's check for its contact's earlier unstored messages (sender, and received within the
-- last minute) read every unprocessed event of that minute through (received_at) WHERE
-- processed_at IS NULL instead of looking up the sender (8 ms for one turn over a 20,000-event
-- backlog, against 0.09 ms). Only the sweeper used that index: it now reads the unprocessed
-- events through inbox_events_unprocessed_sender_idx and sorts them, once a sweep (9-13 ms for
-- such a backlog among 200,000 processed events), where every turn paid before.
DROP INDEX "inbox_events_unprocessed_idx";
