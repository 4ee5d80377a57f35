import type { ModelConfig } from './config.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The chat messages for one question: system, few-shot pairs, then the question. */
export function buildMessages(prompt: ModelConfig['prompt'], question: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (prompt.system) messages.push({ role: 'system', content: prompt.system });
  for (const shot of prompt.fewShot) {
    messages.push({ role: 'user', content: fillQuestion(prompt.user, shot.question) });
    messages.push({ role: 'assistant', content: shot.answer });
  }
  messages.push({ role: 'user', content: fillQuestion(prompt.user, question) });
  return messages;
}

function fillQuestion(template: string, question: string): string {
  return template.split('{question}').join(question);
}

/**
 * An upper bound on the prompt tokens of a chat request, before any usage is known. Byte-level BPE
 * tokenizers never emit more tokens than UTF-8 bytes; chat templates add a few tokens per message.
 */
export function promptTokensUpperBound(messages: ChatMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += utf8Length(message.content) + 8;
  return bytes + 16;
}

/** The usual ~4 characters per token: for estimates shown in plans, never for enforcing a budget. */
export function promptTokensEstimate(messages: ChatMessage[]): number {
  let chars = 0;
  for (const message of messages) chars += message.content.length;
  return Math.ceil(chars / 4) + 4 * messages.length;
}

/** The length of `text` in UTF-8 bytes (a surrogate pair is one 4-byte character). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
