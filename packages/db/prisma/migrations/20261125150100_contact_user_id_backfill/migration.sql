-- zapflow: the BSUIDs of contacts made before contacts.user_id (20261125150000) recorded them.
-- It reads every stored inbound message once: minutes on a large database, during which the
-- contacts it updates stay locked.

-- A contact known only by a BSUID has it as its id: recorded as its BSUID too, so that the
-- number, when it shows up beside it, finds this contact. The pattern is
-- isBusinessScopedUserId's (packages/whatsapp/src/cloud-api.payload.ts).
UPDATE "contacts" SET "user_id" = "wa_id" WHERE "wa_id" ~ '^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+$';

-- A contact known by number takes the BSUID its newest stored message came with (Meta has sent
-- one beside the number since 2026), so that a message without the number finds it. A BSUID
-- already taken above stays where it is, and one that the newest messages of two contacts share
-- goes to neither: one contact per BSUID, and no guessing which.
WITH latest AS (
  SELECT DISTINCT ON (cv.contact_id) cv.contact_id, m.payload->>'from_user_id' AS user_id
  FROM "messages" m JOIN "conversations" cv ON cv.id = m.conversation_id
  WHERE m.direction = 'inbound' AND coalesce(m.payload->>'from_user_id', '') <> ''
  ORDER BY cv.contact_id, m.wa_timestamp DESC NULLS LAST, m.created_at DESC),
single AS (
  SELECT contact_id, user_id FROM latest
  WHERE user_id IN (SELECT user_id FROM latest GROUP BY user_id HAVING count(*) = 1))
UPDATE "contacts" c SET "user_id" = s.user_id
FROM single s
WHERE c.id = s.contact_id AND c.user_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM "contacts" x WHERE x.user_id = s.user_id);
