import type { ConversationEngine, EngineInput, EngineReply } from './engine';

type Lang = 'pt' | 'en';
type Intent = 'greeting' | 'thanks' | 'bye' | 'human' | 'price' | 'media' | 'unknown';

// Words are matched after lower-casing and stripping accents, so "olá" and "ola" are the same.
const PORTUGUESE =
  /\b(oi|ola|bom dia|boa tarde|boa noite|tudo bem|obrigad[oa]|valeu|quero|queria|preco|quanto|voce|atendente|carro|tchau|ate logo|por favor)\b/;
const INTENTS: [Intent, RegExp][] = [
  ['human', /\b(atendente|humano|pessoa|vendedor|gerente|human|agent|person|representative|someone)\b/],
  ['price', /\b(preco|precos|quanto custa|quanto e|valor|price|prices|how much|cost)\b/],
  ['thanks', /\b(obrigad[oa]|valeu|agradeco|thanks|thank you|thx)\b/],
  ['bye', /\b(tchau|ate logo|ate mais|bye|goodbye|see you)\b/],
  ['greeting', /\b(oi|ola|bom dia|boa tarde|boa noite|tudo bem|e ai|hi|hello|hey|good (morning|afternoon|evening))\b/],
];

const ANSWERS: Record<Lang, Record<Intent, (name: string) => string>> = {
  pt: {
    greeting: (n) => `Olá${n}! Sou o assistente virtual. Como posso ajudar você hoje?`,
    thanks: () => 'Por nada! Se precisar de mais alguma coisa, é só chamar.',
    bye: () => 'Até logo! Quando quiser, é só mandar uma mensagem.',
    human: () => 'Entendi, vou chamar uma pessoa da equipe para falar com você. Um momento, por favor.',
    price: () => 'Posso ajudar com preços! Qual modelo ou produto você quer consultar?',
    media: () => 'Recebi seu arquivo, obrigado! Quer me contar em texto como posso ajudar?',
    unknown: () => 'Entendi. Pode me contar um pouco mais sobre o que você procura, para eu ajudar melhor?',
  },
  en: {
    greeting: (n) => `Hello${n}! I'm the virtual assistant. How can I help you today?`,
    thanks: () => "You're welcome! If you need anything else, just send a message.",
    bye: () => 'Goodbye! Write any time you need something.',
    human: () => "Got it, I'll bring in someone from the team. One moment, please.",
    price: () => 'I can help with prices! Which model or product are you interested in?',
    media: () => 'Thanks, I got your file! Could you tell me in a few words how I can help?',
    unknown: () => 'I see. Could you tell me a bit more about what you are looking for, so I can help?',
  },
};

function normalise(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '');
}

/**
 * The built-in engine, used when no OpenAI key is set: deterministic (the same input gives the
 * same reply), Portuguese or English by the contact's words, and never silent.
 */
export class LocalEngine implements ConversationEngine {
  readonly name = 'local';

  async reply(input: EngineInput): Promise<EngineReply> {
    const text = normalise(input.messages.map((m) => m.text ?? '').join(' \n '));
    const lang: Lang = PORTUGUESE.test(text) || !/[a-z]/.test(text) ? 'pt' : 'en';
    const intent: Intent =
      INTENTS.find(([, pattern]) => pattern.test(text))?.[0] ?? (text.trim() === '' ? 'media' : 'unknown');
    const firstName = input.contact.name?.trim().split(/\s+/)[0];
    const greetName = firstName ? `, ${firstName}` : '';
    return { engine: this.name, replies: [{ type: 'text', body: ANSWERS[lang][intent](greetName) }] };
  }
}
