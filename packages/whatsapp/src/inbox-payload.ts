import { z } from 'zod';

// How the webhook stores an extracted message or status in the inbox (as JSON, so dates become
// strings) and how the worker reads it back. Old rows must keep parsing: add fields as optional.

export const StoredInboundMessage = z.object({
  phoneNumberId: z.string(),
  displayPhoneNumber: z.string().optional(),
  waId: z.string(),
  userId: z.string().optional(),
  profileName: z.string().optional(),
  wamid: z.string(),
  type: z.string(),
  timestamp: z.coerce.date(),
  text: z.string().nullable(),
  raw: z.record(z.string(), z.unknown()),
  fromMe: z.boolean().optional(),
  observed: z.boolean().optional(),
});
export type StoredInboundMessage = z.infer<typeof StoredInboundMessage>;

export const StoredStatusUpdate = z.object({
  phoneNumberId: z.string(),
  wamid: z.string(),
  status: z.string(),
  timestamp: z.coerce.date(),
  recipientId: z.string(),
  errors: z
    .array(
      z.object({
        code: z.number(),
        title: z.string().optional(),
        message: z.string().optional(),
        details: z.string().optional(),
      }),
    )
    .default([]),
});
export type StoredStatusUpdate = z.infer<typeof StoredStatusUpdate>;
