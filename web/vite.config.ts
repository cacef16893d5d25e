// Two builds of one page: `--mode agent` (served by `lab-agent web`, into dist/web/agent) and
// `--mode supabase` (static files talking to Supabase with supabase-js, into dist/web/supabase).
// The statecharts are drawn here, at build time, by the visualizer itself (dist/services/viz,
// so `tsc` runs first): the page highlights a row's path on them without shipping Graphviz.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const MACHINES = 'virtual:lab-machines';

function labMachines(): Plugin {
  return {
    name: 'lab-machines',
    resolveId: (id) => (id === MACHINES ? `\0${MACHINES}` : undefined),
    async load(id) {
      if (id !== `\0${MACHINES}`) return undefined;
      const viz = (f: string) => import(new URL(`../dist/services/viz/${f}`, import.meta.url).href);
      const [{ loadMachine }, { machineGraph }, { toDot }, { renderSvg, svgElement }] = await Promise.all([
        viz('machines.js'), viz('machine-graph.js'), viz('dot.js'), viz('svg.js'),
      ]);
      const out: Record<string, unknown> = {};
      for (const name of ['job', 'jupyter']) {
        const graph = machineGraph(await loadMachine(name));
        out[name] = { graph, svg: svgElement((await renderSvg(toDot(graph))).svg) };
      }
      return `export default ${JSON.stringify(out)};`;
    },
  };
}

/**
 * The static build has no server to send headers: its policy goes into a meta tag. Connections
 * may go to this origin (config.json) and to the Supabase project (HTTPS and Realtime's wss).
 */
function staticCsp(): Plugin {
  const project = process.env.SUPABASE_URL?.replace(/\/+$/, '');
  const connect = project ? `${project} ${project.replace(/^http/, 'ws')}` : 'https: wss:';
  const csp = [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", `connect-src 'self' ${connect}`,
    "font-src 'self'", "manifest-src 'self'", "base-uri 'none'", "form-action 'self'",
  ].join('; ');
  return {
    name: 'lab-static-csp',
    transformIndexHtml: (html) => html.replace('<meta charset="utf-8">', `<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="${csp}">`),
    // The project's address and its public (anon) key; edit config.json to point a build elsewhere.
    generateBundle() {
      const config = { supabaseUrl: project ?? '', supabaseAnonKey: process.env.SUPABASE_ANON_KEY ?? '', pollSeconds: 30 };
      this.emitFile({ type: 'asset', fileName: 'config.json', source: `${JSON.stringify(config, null, 2)}\n` });
    },
  };
}

export default defineConfig(({ mode }) => ({
  root: here('.'),
  base: './',
  publicDir: here('public'),
  plugins: [labMachines(), ...(mode === 'supabase' ? [staticCsp()] : [])],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  define: { __SOURCE__: JSON.stringify(mode === 'supabase' ? 'supabase' : 'agent') },
  build: {
    // LAB_WEB_OUT_DIR: another folder (a test's, or a deployment's)
    outDir: process.env.LAB_WEB_OUT_DIR ?? here(`../dist/web/${mode === 'supabase' ? 'supabase' : 'agent'}`),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    // The statecharts take a second or two to draw; rolldown's note about slow plugins is noise here.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  logLevel: 'warn',
}));
