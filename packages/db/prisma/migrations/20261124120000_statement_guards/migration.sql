-- zapflow: lets one statement undo itself. The hot path writes a turn (and other multi-row
-- changes) in a single statement to spare round trips; when such a statement finds, after its
-- writes, that a precondition failed (another turn took its inputs), it calls this function and
-- PostgreSQL rolls back everything the statement wrote. The reason reaches the caller in the
-- error message, after "zapflow_reject: ", with SQLSTATE ZF001. VOLATILE (the default, said
-- aloud): the planner must never evaluate it ahead of time.
CREATE FUNCTION "zapflow_reject"("reason" TEXT) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'zapflow_reject: %', "reason" USING ERRCODE = 'ZF001';
END
$$;
