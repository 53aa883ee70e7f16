// The theme's colour pairs that carry text pass WCAG AA (4.5:1) in both themes. The colours are
// read from app.css itself, so a palette change that breaks contrast fails here.
import { describe, expect, it } from 'vitest';
// Read as text: the test environment does not process stylesheets, but `?raw` is plain text.
const css: string = Object.values(import.meta.glob('../app.css', { query: '?raw', import: 'default', eager: true }))[0] as string;

function block(selector: string): Record<string, string> {
  const start = css.indexOf(selector);
  const body = css.slice(css.indexOf('{', start) + 1, css.indexOf('}', start));
  return Object.fromEntries([...body.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})/g)].map((m) => [m[1], m[2]]));
}

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// [text, background]: every pairing the stylesheet uses for words.
const pairs: [string, string][] = [
  ['text', 'bg'], ['text', 'surface'], ['muted', 'bg'], ['muted', 'surface'],
  ['accent', 'bg'], ['accent', 'surface'], ['accent', 'accent-soft'], ['on-accent', 'accent'],
  ['ok', 'bg'], ['ok', 'surface'], ['warn', 'bg'], ['warn', 'surface'], ['on-warn', 'warn'],
  ['bad', 'bg'], ['bad', 'surface'],
];

it('reads the stylesheet', () => expect(css.length).toBeGreaterThan(1000));

describe.each([
  ['light', block(':root {')],
  ['dark', block(":root[data-theme='dark']")],
  ['dark (OS preference)', block(":root:not([data-theme='light'])")],
])('%s theme', (_, colours) => {
  it.each(pairs)('%s on %s reads at 4.5:1 or better', (fg, bg) => {
    expect(colours[fg], `--${fg}`).toMatch(/^#/);
    expect(colours[bg], `--${bg}`).toMatch(/^#/);
    expect(contrast(colours[fg], colours[bg])).toBeGreaterThanOrEqual(4.5);
  });
});
