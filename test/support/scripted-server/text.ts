/** Token counting of the scripted server: words stand in for tokens. */
import type { ChatMessage } from './types.js';

/** Number of whitespace-separated words (fast loop, no regex). */
export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count++;
    }
  }
  return count;
}

/** The text of a message's content: a string as is, content-part arrays as their text parts joined by newlines. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        out += (out ? '\n' : '') + (part as { text: string }).text;
      }
    }
    return out;
  }
  return '';
}

/** Text of the last message with role `user` ('' if none). */
export function lastUserText(messages: readonly ChatMessage[] | undefined): string {
  if (!messages) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === 'user') return contentText(messages[i].content);
  }
  return '';
}
