// The store contract through real supabase-js signed in as each member (password sign-in, 0600
// session file), over the PostgREST/GoTrue layer and the real SQL: RLS and auth.uid() as on Supabase.
import { storeContractOver } from './helpers/supabase/contract.js';

await storeContractOver('supabase-session');
