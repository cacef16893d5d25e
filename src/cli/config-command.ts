// `lab-agent config`: the effective configuration with secrets masked, or the key table (--doc).
import { CONFIG_KEYS } from '../services/config-keys.js';
import { loadConfig, maskedValues } from '../services/config.js';
import { defineCommand, type Command } from './command.js';
import { table } from './output.js';

/** The Markdown table in the README's configuration section. */
export function configDocTable(): string {
  const rows = CONFIG_KEYS.map((k) => {
    const def = typeof k.default === 'function' ? describeDynamicDefault(k.key) : k.default ? `\`${k.default}\`` : '(empty)';
    return `| \`${k.key}\` | ${def} | ${k.description}${k.original ? ' (original agent)' : ''} |`;
  });
  return ['| key | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

function describeDynamicDefault(key: string): string {
  const map: Record<string, string> = {
    LAB_USER: 'your Linux user name', LAB_AGENT_DIR: '`~/lab_job_agent`', LAB_DATA_DIR: '`~/.local/share/lab-job-agent`',
    LAB_LOG_DIR: '`~/lab_job_logs`', LAB_HOST: 'the host name', LAB_PUBLIC_HOST: 'the host name',
  };
  return map[key] ?? '(computed)';
}

export const configCommand = defineCommand({
  name: 'config',
  summary: 'show the effective configuration (secrets masked)',
  usage: 'lab-agent config [--json] [--doc]',
  json: true,
  options: { doc: { type: 'boolean', help: "print the README's configuration table instead of your values", whenAbsent: 'off' } },
  async run({ out, env, options }) {
    if (options.doc) {
      out.line(configDocTable());
      return;
    }
    const config = loadConfig({ env });
    const values = maskedValues(config);
    const data = { mode: config.mode, agentDir: config.agentDir, values, sources: config.sources };
    out.data(data, (d) =>
      [`mode: ${d.mode}`, `.env: ${d.agentDir}/.env`, '', table(Object.entries(d.values).map(([k, v]) => [k, v || '(empty)', d.sources[k] ?? '']))].join('\n'),
    );
  },
});
