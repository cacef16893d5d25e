-- A model pattern matches anywhere in the name nvidia-smi prints: `--gpu-model A100` (and the
-- README's `'A100*'`) find "NVIDIA A100-SXM4-80GB", which a whole-name glob never did (every
-- model name starts with the vendor). `*` and `?` still work as in the shell.
create or replace function lab_private.gpu_model_like(p_glob text) returns text
  language sql immutable set search_path = '' as $$
  select '%' || replace(replace(replace(replace(replace(p_glob, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') || '%'
$$;
