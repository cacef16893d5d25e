// `lab-agent viz`: draws a machine from its definition, or a job's / session's way through it
// from the events table. Text and Mermaid/DOT go to stdout; SVG/HTML to a file (-o), or to a pipe.
import { writeFile } from 'node:fs/promises';
import { defineCommand, type Command } from './command.js';
import { UsageError } from './output.js';
import { findJob, findSession, idArg, withUserStore } from './user-store.js';

export const vizCommand = defineCommand({
  name: 'viz',
  summary: "draw a machine (job, jupyter), or a job's or session's path through it",
  usage: 'lab-agent viz job|jupyter [--format mermaid|dot|svg|html|text] [-o FILE]\n'
    + '       lab-agent viz --job <id> | --session <id> [--format text|html|svg|dot|mermaid] [-o FILE] [--json]',
  json: true,
  options: {
    format: { type: 'string', help: 'mermaid, dot, svg, html or text', whenAbsent: "from -o's extension, else mermaid; text for --job/--session" },
    output: { type: 'string', short: 'o', help: 'write to this file', whenAbsent: 'stdout' },
    job: { type: 'string', help: "draw this job's path through the machine", whenAbsent: 'none' },
    session: { type: 'string', help: "draw this Jupyter session's path", whenAbsent: 'none' },
  },
  async run({ args, options, env, out }) {
    const { FORMATS, formatOfFile, drawHistory, drawMachine } = await import('../services/viz/render.js');
    const { isMachineName, loadMachine, MACHINE_NAMES } = await import('../services/viz/machines.js');
    const { machineGraph } = await import('../services/viz/machine-graph.js');
    const { traceHistory } = await import('../services/viz/history.js');
    const jobId = options.job;
    const sessionId = options.session;
    if (jobId !== undefined && sessionId !== undefined) throw new UsageError('give --job or --session, not both');
    const rowMode = jobId !== undefined || sessionId !== undefined;
    const name = rowMode ? (jobId !== undefined ? 'job' : 'jupyter') : args[0];
    if (!name || !isMachineName(name)) throw new UsageError(`which machine? one of: ${MACHINE_NAMES.join(', ')} (or --job <id> / --session <id>)`);
    // `viz job --job <id>` reads fine too; anything else extra is a mistake.
    const extra = rowMode && args[0] === name ? args.slice(1) : rowMode ? args : args.slice(1);
    if (extra.length) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);
    const file = options.output;
    const format = options.format ?? (file ? formatOfFile(file) : null) ?? (rowMode ? 'text' : 'mermaid');
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format takes one of: ${FORMATS.join(', ')}`);
    if (!file && !out.json && (format === 'svg' || format === 'html') && process.stdout.isTTY) {
      throw new UsageError(`${format} is for a browser: write it to a file with -o FILE.${format}`);
    }
    const machine = await loadMachine(name);
    const graph = machineGraph(machine);
    let text: string;
    if (!rowMode) {
      if (out.json) return out.data(graph, () => '');
      text = await drawMachine(graph, format as (typeof FORMATS)[number]);
    } else {
      const { subject, events } = await withUserStore(env, async (store) => {
        if (jobId !== undefined) {
          const job = await findJob(store, jobId);
          const title = [job.script_path, job.args].filter(Boolean).join(' ') || null;
          return { subject: { machine: 'job', id: job.job_id, title, status: job.status }, events: await store.history(job.job_id) };
        }
        const s = await findSession(store, idArg([sessionId!], 'session', 'lab-agent jupyter ls'));
        const title = [s.dir, s.url].filter(Boolean).join(' ') || null;
        return { subject: { machine: 'jupyter', id: s.session_id, title, status: s.status }, events: await store.history(s.session_id) };
      });
      const history = traceHistory(graph, events);
      if (out.json) {
        return out.data({
          ...subject, current: history.current, path: history.path,
          steps: history.steps.map((s) => ({ ...s, edges: s.edges.map((e) => ({ source: e.source, target: e.target, event: e.event, guard: e.guard })) })),
        }, () => '');
      }
      text = await drawHistory(graph, subject, history, format as (typeof FORMATS)[number]);
    }
    if (file) {
      await writeFile(file, text);
      process.stderr.write(`wrote ${file} (${format})\n`);
    } else {
      process.stdout.write(text);
    }
  },
});
