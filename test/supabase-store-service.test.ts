// The store contract through real supabase-js with the service key, each call naming its member
// (p_user_id), over the PostgREST/GoTrue layer and the real SQL.
import { storeContractOver } from './helpers/supabase/contract.js';

await storeContractOver('supabase-service');
