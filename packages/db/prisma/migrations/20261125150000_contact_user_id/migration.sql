-- zapflow: a contact's business-scoped user id (BSUID), as Meta sends it beside the phone number
-- (`from_user_id`, `contacts[].user_id`). A user who adopts a WhatsApp username may later write
-- with the BSUID alone; this column is how that message finds the contact it belongs to, with its
-- history, handoff and opt-out, instead of starting a second one. Unique where set: one contact
-- per BSUID. Partial, so it is not a key column for row locks: recording it takes the same
-- FOR NO KEY UPDATE lock as renaming the contact, which a concurrent foreign-key check does not
-- block.
-- Both statements hold contacts' strongest lock until the migration commits (a scan of the
-- table for the index): rather fail, and be run again, than queue every message behind a long
-- transaction that holds the table.
SET LOCAL lock_timeout = '10s';
ALTER TABLE "contacts" ADD COLUMN "user_id" TEXT;
CREATE UNIQUE INDEX "contacts_user_id_key" ON "contacts"("user_id") WHERE "user_id" IS NOT NULL;
