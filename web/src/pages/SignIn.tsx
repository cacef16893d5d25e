// Signing in. The agent's page signs in with the link `lab-agent web` printed; the static
// Supabase page with an emailed code (or a password), as `lab-agent login` does.
import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/common.js';
import { t } from '../i18n.js';
import { me, source } from '../state.js';

export function NeedToken() {
  return (
    <div class="page narrow center">
      <h1>{t('token.title')}</h1>
      <p>{t('token.body')}</p>
      <pre class="mono">lab-agent web</pre>
    </div>
  );
}

export function SignIn() {
  const auth = source().auth!;
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [sent, setSent] = useState(false);
  const [withPassword, setWithPassword] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = (e: Event, step: () => Promise<void>) => {
    e.preventDefault();
    setError(null);
    void step().catch(setError);
  };
  const signedIn = async () => {
    me.value = await source().identity();
  };
  return (
    <div class="page narrow center">
      <h1>{t('signin.title')}</h1>
      <form class="form" onSubmit={(e) => run(e, async () => {
        if (withPassword) {
          await auth.password(email, password);
          await signedIn();
        } else if (!sent) {
          await auth.sendCode(email);
          setSent(true);
        } else {
          await auth.verifyCode(email, code.trim());
          await signedIn();
        }
      })}>
        <label for="email">{t('signin.email')}</label>
        <input id="email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        {withPassword && <>
          <label for="password">{t('signin.password')}</label>
          <input id="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </>}
        {!withPassword && sent && <>
          <p class="muted">{t('signin.sent', { email })}</p>
          <label for="code">{t('signin.code')}</label>
          <input id="code" inputMode="numeric" autoComplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>}
        <ErrorBox error={error} />
        <button type="submit" class="primary">{withPassword || sent ? t('signin.verify') : t('signin.send')}</button>
        <button type="button" class="link" onClick={() => { setWithPassword(!withPassword); setSent(false); }}>{withPassword ? t('signin.withCode') : t('signin.withPassword')}</button>
      </form>
    </div>
  );
}
