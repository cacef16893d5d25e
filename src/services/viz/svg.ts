// DOT → SVG offline: Graphviz compiled to WebAssembly (@viz-js/viz), shipped inside the npm
// package, so drawing needs neither a `dot` binary nor the network.
import { instance, type Viz } from '@viz-js/viz';

let viz: Promise<Viz> | null = null;

export interface SvgResult {
  svg: string;
  /** Graphviz warnings (a successful render may still have some). */
  warnings: string[];
}

/** Renders DOT; throws with Graphviz's own messages when the DOT is bad. */
export async function renderSvg(dot: string): Promise<SvgResult> {
  viz ??= instance();
  const result = (await viz).render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    throw new Error(`graphviz could not draw the machine: ${result.errors.map((e) => e.message.trim()).join('; ')}`);
  }
  return { svg: result.output, warnings: result.errors.map((e) => e.message.trim()) };
}

/** The <svg> element alone, without the XML prolog and doctype, for inlining into HTML. */
export const svgElement = (svg: string): string => svg.slice(svg.indexOf('<svg'));
