/**
 * WhatsApp JIDs as Baileys writes them: `user[:device]@server`.
 *   5511988887777@s.whatsapp.net   a phone number (older clients: @c.us)
 *   5511988887777:12@s.whatsapp.net   the same, one of its devices
 *   214000000000001@lid            a linked identity hiding the phone number
 *   120363000000000000@g.us        a group
 *   status@broadcast               status posts; other @broadcast JIDs are broadcast lists
 *   120363000000000000@newsletter  a channel
 */
const PHONE_JID = /^(\d{5,20})(?::\d+)?@(?:s\.whatsapp\.net|c\.us)$/;

/** The phone number (digits only) of a phone JID; null for any other JID or value. */
export function phoneOfJid(jid: string | null | undefined): string | null {
  if (typeof jid !== 'string') return null;
  return PHONE_JID.exec(jid.trim())?.[1] ?? null;
}

export type JidKind = 'phone' | 'lid' | 'group' | 'status' | 'broadcast' | 'newsletter' | 'other';

export function jidKind(jid: string): JidKind {
  if (phoneOfJid(jid) !== null) return 'phone';
  if (jid === 'status@broadcast') return 'status';
  const server = jid.slice(jid.lastIndexOf('@') + 1);
  switch (server) {
    case 'lid':
      return 'lid';
    case 'g.us':
      return 'group';
    case 'broadcast':
      return 'broadcast';
    case 'newsletter':
      return 'newsletter';
    default:
      return 'other';
  }
}
