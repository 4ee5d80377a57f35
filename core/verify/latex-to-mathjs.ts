// Translates the LaTeX of one answer expression into mathjs syntax with explicit multiplication, so that
// mathjs can parse, compile and evaluate it. Anything this translator does not understand throws
// UnsupportedLatex, and the caller falls back to comparing normalised strings (never to a guess).

export class UnsupportedLatex extends Error {}

const FUNCTIONS: Record<string, string> = {
  sin: 'sin',
  cos: 'cos',
  tan: 'tan',
  sec: 'sec',
  csc: 'csc',
  cot: 'cot',
  arcsin: 'asin',
  arccos: 'acos',
  arctan: 'atan',
  sinh: 'sinh',
  cosh: 'cosh',
  tanh: 'tanh',
  ln: 'log',
  log: 'log10',
  exp: 'exp',
  lg: 'log10',
};
const CONSTANTS: Record<string, string> = { pi: 'pi', infty: 'Infinity', infinity: 'Infinity', e: 'e' };
const MULTIPLY = new Set(['cdot', 'times', 'ast']);

type Token = { type: 'num' | 'letter' | 'cmd' | 'sym'; text: string };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s*(?:(\d+(?:\.\d+)?|\.\d+)|([a-zA-Z])|\\([a-zA-Z]+)|\\\\|(\\[{}]|[+\-*/^_()[\]{}!|,&=<>']))/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while (consumed < src.length && (match = pattern.exec(src)) !== null) {
    consumed = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ type: 'num', text: match[1] });
    else if (match[2] !== undefined) tokens.push({ type: 'letter', text: match[2] });
    else if (match[3] !== undefined) tokens.push({ type: 'cmd', text: match[3] });
    else if (match[4] !== undefined) tokens.push({ type: 'sym', text: match[4] });
    else tokens.push({ type: 'sym', text: '\\\\' });
    if (match[0] === '') break;
  }
  if (src.slice(consumed).trim() !== '')
    throw new UnsupportedLatex(`unexpected ${src.slice(consumed, consumed + 10)}`);
  return tokens;
}

class Translator {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  translate(): string {
    const out = this.sequence(new Set());
    if (this.pos < this.tokens.length) throw new UnsupportedLatex(`unexpected ${this.tokens[this.pos].text}`);
    return out;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isSym(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.type === 'sym' && t.text === text;
  }

  private expectSym(text: string): void {
    if (!this.isSym(text)) throw new UnsupportedLatex(`expected ${text}`);
    this.pos++;
  }

  /** Operands and operators up to a stop symbol; adjacent operands are multiplied. */
  private sequence(stops: Set<string>): string {
    const parts: string[] = [];
    let lastWasOperand = false;
    for (;;) {
      const t = this.peek();
      if (t === undefined || (t.type === 'sym' && stops.has(t.text))) break;
      if (t.type === 'sym' && (t.text === '+' || t.text === '-' || t.text === '*' || t.text === '/')) {
        parts.push(t.text);
        this.pos++;
        lastWasOperand = false;
        continue;
      }
      if (t.type === 'cmd' && (MULTIPLY.has(t.text) || t.text === 'div')) {
        parts.push(t.text === 'div' ? '/' : '*');
        this.pos++;
        lastWasOperand = false;
        continue;
      }
      if (t.type === 'sym' && t.text === '!') {
        if (!lastWasOperand) throw new UnsupportedLatex('dangling !');
        parts[parts.length - 1] = `(${parts[parts.length - 1]})!`;
        this.pos++;
        continue;
      }
      if (t.type === 'sym' && t.text === '^') {
        if (!lastWasOperand) throw new UnsupportedLatex('dangling ^');
        this.pos++;
        parts[parts.length - 1] = `(${parts[parts.length - 1]})^(${this.scriptArgument()})`;
        continue;
      }
      const operand = this.operand();
      if (lastWasOperand) parts.push('*');
      parts.push(operand);
      lastWasOperand = true;
    }
    if (parts.length === 0) throw new UnsupportedLatex('empty expression');
    return parts.join(' ');
  }

  /** The argument of ^ or _: a braced group, or a single digit/letter/command (LaTeX takes one token). */
  private scriptArgument(): string {
    const t = this.peek();
    if (t === undefined) throw new UnsupportedLatex('missing script');
    if (t.type === 'sym' && t.text === '{') return this.group('{', '}');
    if (t.type === 'num') {
      this.pos++;
      if (t.text.length > 1 && !t.text.includes('.')) {
        // x^23 is x^2 * 3 in LaTeX; keep the first digit only and push the rest back.
        this.tokens.splice(this.pos, 0, { type: 'num', text: t.text.slice(1) });
        return t.text[0];
      }
      return t.text;
    }
    if (t.type === 'sym' && t.text === '-') {
      this.pos++;
      return `-(${this.scriptArgument()})`;
    }
    return this.operand();
  }

  private group(open: string, close: string): string {
    this.expectSym(open);
    const inner = this.sequence(new Set([close]));
    this.expectSym(close);
    return inner;
  }

  private operand(): string {
    const t = this.peek();
    if (t === undefined) throw new UnsupportedLatex('missing operand');
    this.pos++;
    switch (t.type) {
      case 'num':
        return t.text;
      case 'letter':
        return this.subscripted(t.text);
      case 'sym':
        return this.bracketOperand(t.text);
      case 'cmd':
        return this.command(t.text);
    }
  }

  private subscripted(letter: string): string {
    if (letter === 'i' && !this.isSym('_')) return 'i';
    if (!this.isSym('_')) return letter === 'e' ? 'e' : letter;
    this.pos++;
    const sub = this.scriptArgument();
    if (!/^[a-zA-Z0-9 ]+$/.test(sub)) throw new UnsupportedLatex('complex subscript');
    return `${letter}_${sub.replace(/ /g, '')}`;
  }

  private bracketOperand(symbol: string): string {
    if (symbol === '(') {
      const inner = this.sequence(new Set([')']));
      this.expectSym(')');
      return `(${inner})`;
    }
    if (symbol === '[') {
      const inner = this.sequence(new Set([']']));
      this.expectSym(']');
      return `(${inner})`;
    }
    if (symbol === '{') {
      const inner = this.sequence(new Set(['}']));
      this.expectSym('}');
      return `(${inner})`;
    }
    if (symbol === '|') {
      const inner = this.sequence(new Set(['|']));
      this.expectSym('|');
      return `abs(${inner})`;
    }
    throw new UnsupportedLatex(`unexpected ${symbol}`);
  }

  private command(name: string): string {
    if (name === 'frac') {
      const num = this.group('{', '}');
      const den = this.group('{', '}');
      return `((${num}) / (${den}))`;
    }
    if (name === 'sqrt') {
      let index: string | null = null;
      if (this.isSym('[')) index = this.group('[', ']');
      const body = this.isSym('(') ? this.group('(', ')') : this.group('{', '}');
      return index === null ? `sqrt(${body})` : `nthRoot(${body}, ${index})`;
    }
    if (name === 'binom') {
      const n = this.group('{', '}');
      const k = this.group('{', '}');
      return `combinations(${n}, ${k})`;
    }
    if (name in CONSTANTS) return CONSTANTS[name];
    if (name === 'begin') return this.matrix();
    if (name in FUNCTIONS) return this.functionCall(name);
    throw new UnsupportedLatex(`unsupported \\${name}`);
  }

  private functionCall(name: string): string {
    let power: string | null = null;
    if (this.isSym('^')) {
      this.pos++;
      power = this.scriptArgument();
    }
    let fn = FUNCTIONS[name];
    let base: string | null = null;
    if (name === 'log' && this.isSym('_')) {
      this.pos++;
      base = this.scriptArgument();
      fn = 'log';
    }
    let argument: string;
    if (this.isSym('(')) argument = this.group('(', ')');
    else if (this.isSym('{')) argument = this.group('{', '}');
    else {
      // \sin x, \sin 2x: the argument runs over the following product of simple atoms.
      const atoms: string[] = [];
      while (
        this.peek() !== undefined &&
        (this.peek()!.type === 'num' || this.peek()!.type === 'letter' || this.peek()!.text === 'pi')
      ) {
        atoms.push(this.operand());
        if (this.isSym('^')) {
          this.pos++;
          atoms[atoms.length - 1] = `(${atoms[atoms.length - 1]})^(${this.scriptArgument()})`;
        }
      }
      if (atoms.length === 0) throw new UnsupportedLatex(`missing argument of \\${name}`);
      argument = atoms.join(' * ');
    }
    const call = base === null ? `${fn}(${argument})` : `log(${argument}, ${base})`;
    return power === null ? call : `(${call})^(${power})`;
  }

  /** \begin{pmatrix} a & b \\ c & d \end{pmatrix} -> [[a, b], [c, d]] */
  private matrix(): string {
    this.expectSym('{');
    const env: string[] = [];
    while (!this.isSym('}')) {
      const t = this.peek();
      if (t === undefined) throw new UnsupportedLatex('bad \\begin');
      env.push(t.text);
      this.pos++;
    }
    this.pos++;
    const name = env.join('');
    if (!/^[pbvBV]?matrix$|^array$/.test(name)) throw new UnsupportedLatex(`environment ${name}`);
    if (name === 'array' && this.isSym('{')) this.skipGroup();
    const rows: string[][] = [[]];
    for (;;) {
      const t = this.peek();
      if (t === undefined) throw new UnsupportedLatex('unterminated matrix');
      if (t.type === 'cmd' && t.text === 'end') {
        this.pos++;
        this.skipGroup();
        break;
      }
      if (t.type === 'sym' && t.text === '\\\\') {
        this.pos++;
        rows.push([]);
        continue;
      }
      if (t.type === 'sym' && t.text === '&') {
        this.pos++;
        continue;
      }
      rows[rows.length - 1].push(this.matrixCell());
    }
    const filled = rows.filter((row) => row.length > 0);
    const width = filled[0]?.length ?? 0;
    if (width === 0 || filled.some((row) => row.length !== width))
      throw new UnsupportedLatex('ragged matrix');
    return `[${filled.map((row) => `[${row.join(', ')}]`).join(', ')}]`;
  }

  private matrixCell(): string {
    const parts: string[] = [];
    const start = this.pos;
    // A cell ends at &, \\ or \end.
    let end = start;
    while (end < this.tokens.length) {
      const t = this.tokens[end];
      if (
        (t.type === 'sym' && (t.text === '&' || t.text === '\\\\')) ||
        (t.type === 'cmd' && t.text === 'end')
      )
        break;
      end++;
    }
    const cell = new Translator(this.tokens.slice(start, end));
    parts.push(cell.translate());
    this.pos = end;
    return parts.join('');
  }

  private skipGroup(): void {
    this.expectSym('{');
    let depth = 1;
    while (depth > 0) {
      const t = this.peek();
      if (t === undefined) throw new UnsupportedLatex('unbalanced group');
      if (t.type === 'sym' && t.text === '{') depth++;
      if (t.type === 'sym' && t.text === '}') depth--;
      this.pos++;
    }
  }
}

/** Bare function words written without a backslash (sqrt(3), sin x) as commands. */
function commandifyBareWords(latex: string): string {
  return latex.replace(/(?<![\\a-zA-Z])(sqrt|sin|cos|tan|sec|csc|cot|ln|log|exp|pi)(?![a-zA-Z])/g, '\\$1');
}

export function latexToMathjs(latex: string): string {
  return new Translator(tokenize(commandifyBareWords(latex))).translate();
}
