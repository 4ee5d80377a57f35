// One model entry as the config file gives it, validated with every default filled in, for tests that call
// activities directly. Its API key is read from WCSE_TEST_API_KEY.
import { validateConfig, type ModelConfig } from '../../core/config.js';

export function validModel(
  name: string,
  baseURL: string,
  params: number,
  fields: Record<string, unknown> = {},
): ModelConfig {
  const model = { model: name, baseURL, params, apiKeyEnv: 'WCSE_TEST_API_KEY', ...fields };
  return validateConfig(
    {
      name: 'model-config',
      problems: { path: 'x.jsonl', kind: 'gsm8k' },
      models: { wc: model, se: model },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
    },
    'model-config-test',
  ).models.wc;
}
