/**
 * A restricted mathjs instance: no import, createUnit, function or variable definitions, and a
 * bounded expression size, so an answer string from a model can be evaluated safely.
 */
import { all, create, type MathNode } from 'mathjs';

const math = create(all, { number: 'number' });
const parse = math.parse;
const simplify = math.simplify;
const blocked = (name: string) => () => {
  throw new Error(`${name} is disabled in the math verifier`);
};
math.import(
  { import: blocked('import'), createUnit: blocked('createUnit'), evaluate: blocked('evaluate'), parse: blocked('parse'), simplify: blocked('simplify'), derivative: blocked('derivative'), compile: blocked('compile'), reviver: blocked('reviver'), resolve: blocked('resolve') },
  { override: true },
);

export const MAX_EXPRESSION_CHARS = 300;
export const MAX_EXPRESSION_NODES = 200;
const ALLOWED_NODES = new Set(['ConstantNode', 'SymbolNode', 'OperatorNode', 'ParenthesisNode', 'FunctionNode']);
const ALLOWED_FUNCTIONS = new Set(['sqrt', 'abs', 'exp', 'log', 'ln', 'sin', 'cos', 'tan', 'nthRoot', 'cbrt', 'pow']);

/** Parses a bounded arithmetic / algebraic expression; null when it is too big or uses anything else. */
export function parseExpression(text: string): MathNode | null {
  if (text.length === 0 || text.length > MAX_EXPRESSION_CHARS) return null;
  let node: MathNode;
  try {
    node = parse(text);
  } catch {
    return null;
  }
  let count = 0;
  let ok = true;
  node.traverse((child, _path, parent) => {
    count++;
    if (!ALLOWED_NODES.has(child.type)) ok = false;
    if (child.type === 'FunctionNode') {
      const name = (child as unknown as { fn: { name?: string } }).fn.name ?? '';
      if (!ALLOWED_FUNCTIONS.has(name)) ok = false;
    }
    if (child.type === 'SymbolNode' && parent?.type !== 'FunctionNode' && !/^[a-zA-Z]$|^pi$|^e$/.test((child as unknown as { name: string }).name)) ok = false;
  });
  return ok && count <= MAX_EXPRESSION_NODES ? node : null;
}

/** Symbols other than the constants pi and e: the free variables. */
export function freeVariables(node: MathNode): string[] {
  const names = new Set<string>();
  node.traverse((child, _path, parent) => {
    if (child.type === 'SymbolNode' && parent?.type !== 'FunctionNode') {
      const name = (child as unknown as { name: string }).name;
      if (name !== 'pi' && name !== 'e') names.add(name);
    }
  });
  return [...names].sort();
}

export function evaluateNode(node: MathNode, scope: Record<string, number> = {}): number | null {
  try {
    const value: unknown = node.compile().evaluate({ ...scope });
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/** True when simplify(a - b) is the constant 0. */
export function simplifiesToZero(a: MathNode, b: MathNode): boolean {
  try {
    const difference = simplify(new math.OperatorNode('-', 'subtract', [a, b]));
    return difference.type === 'ConstantNode' && Number((difference as unknown as { value: unknown }).value) === 0;
  } catch {
    return false;
  }
}
