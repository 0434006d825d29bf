/**
 * Opt-out and opt-in words. A message that is only one of these words (punctuation, case and
 * accents aside) is a request, not conversation: "parar" stops, "voltar" starts again. Checked
 * before any engine, so a model can never talk past an opt-out.
 */
const OPT_OUT = new Set([
  'parar',
  'pare',
  'para',
  'stop',
  'sair',
  'cancelar',
  'descadastrar',
  'remover',
  'nao quero mais',
  'unsubscribe',
  'opt out',
  'optout',
  'stop all',
  'end',
  'quit',
]);
const OPT_IN = new Set(['voltar', 'volta', 'start', 'comecar', 'iniciar', 'unstop', 'opt in', 'subscribe']);

function normalise(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export type OptRequest = 'out' | 'in' | null;

/** The last opt request among a turn's messages (the contact's latest word wins). */
export function optRequest(texts: (string | null)[]): OptRequest {
  let request: OptRequest = null;
  for (const text of texts) {
    const word = normalise(text ?? '');
    if (OPT_OUT.has(word)) request = 'out';
    else if (OPT_IN.has(word)) request = 'in';
  }
  return request;
}

export function looksEnglish(texts: (string | null)[]): boolean {
  const words = normalise(texts.join(' '));
  return (
    /\b(stop|unsubscribe|quit|end|start|subscribe|opt|hello|hi|please|thanks)\b/.test(words) &&
    !/\b(parar|pare|sair|voltar|oi|ola|obrigad)\b/.test(words)
  );
}

export const OPT_REPLIES = {
  out: {
    pt: 'Pronto, você não vai mais receber mensagens nossas por aqui. Se mudar de ideia, é só enviar VOLTAR.',
    en: "Done, you won't receive messages from us here anymore. If you change your mind, just send START.",
  },
  in: {
    pt: 'Que bom ter você de volta! Você voltará a receber nossas novidades. Como posso ajudar?',
    en: "Welcome back! You'll receive our updates again. How can I help?",
  },
} as const;
