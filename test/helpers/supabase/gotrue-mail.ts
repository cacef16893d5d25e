// The sign-in email GoTrue sends for signInWithOtp: the magic-link template with Go template
// variables. A default hosted project uses GoTrue's built-in template (a link only, no code);
// this project ships its own in supabase/config.toml with {{ .Token }} (the code the CLI asks for).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../required.js';

/** GoTrue's built-in magic-link template (internal/mailer/template.go, defaultMagicLinkMail). */
export const DEFAULT_MAGIC_LINK = { subject: 'Your Magic Link', body: '<h2>Magic Link</h2>\n\n<p>Follow this link to login:</p>\n<p><a href="{{ .ConfirmationURL }}">Log In</a></p>\n' };

export interface MailTemplate {
  subject: string;
  body: string;
}

/** The magic_link template named in supabase/config.toml ([auth.email.template.magic_link]). */
export function projectMagicLinkTemplate(configToml = join(repoRoot, 'supabase', 'config.toml')): MailTemplate {
  const text = readFileSync(configToml, 'utf8');
  const section = /\[auth\.email\.template\.magic_link\]([^[]*)/.exec(text)?.[1];
  if (!section) throw new Error(`${configToml} has no [auth.email.template.magic_link]`);
  const subject = /subject\s*=\s*"([^"]*)"/.exec(section)?.[1] ?? DEFAULT_MAGIC_LINK.subject;
  const path = /content_path\s*=\s*"([^"]*)"/.exec(section)?.[1];
  if (!path) throw new Error('magic_link template has no content_path');
  // The CLI resolves content_path against the folder that holds supabase/.
  return { subject, body: readFileSync(join(dirname(dirname(configToml)), path), 'utf8') };
}

/** GoTrue's token hash for email links: hex SHA-224 of email + code (crypto.GenerateTokenHash). */
export const tokenHash = (email: string, code: string) => createHash('sha224').update(email + code).digest('hex');

function renderTemplate(tpl: string, vars: Record<string, string>): string {
  return tpl.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, name: string) => vars[name] ?? m);
}

export interface SentMail {
  to: string;
  subject: string;
  html: string;
  /** The code and the link in it, as a member would read them. */
  code: string | null;
  link: string | null;
}

export function composeMagicLink(tpl: MailTemplate, v: { email: string; code: string; apiUrl: string; siteUrl: string }): SentMail {
  const hash = tokenHash(v.email, v.code);
  const confirmationUrl = `${v.apiUrl}/auth/v1/verify?token=${hash}&type=magiclink&redirect_to=${encodeURIComponent(v.siteUrl)}`;
  const vars = { Token: v.code, TokenHash: hash, ConfirmationURL: confirmationUrl, SiteURL: v.siteUrl, Email: v.email, RedirectTo: v.siteUrl };
  const html = renderTemplate(tpl.body, vars);
  const code = /\b(\d{6,10})\b/.exec(html.replace(/<[^>]+>/g, ' '))?.[1] ?? null;
  const link = /href="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? null;
  return { to: v.email, subject: renderTemplate(tpl.subject, vars), html, code, link };
}
